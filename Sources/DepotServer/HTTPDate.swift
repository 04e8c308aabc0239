import CSystemCalls
import Foundation
import Synchronization

/// Dates as HTTP writes them (RFC 9110 §5.6.7, IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The current time, for `Date` headers: formatted once a second.
    static func now() -> String {
        let seconds = time(nil)
        return current.withLock { cached in
            if cached.seconds != seconds { cached = (seconds, format(seconds)) }
            return cached.text
        }
    }

    private static let current = Mutex<(seconds: Int, text: String)>((0, ""))

    /// Seconds since the epoch, or nil for text that is not an IMF-fixdate.
    static func parse(_ text: String) -> Int? {
        var parts = tm()
        guard let end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &parts), end.pointee == 0 else { return nil }
        return Int(timegm(&parts))
    }
}
