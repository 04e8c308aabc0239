import CSystemCalls
import Foundation
import Synchronization

/// Dates as HTTP writes them (RFC 9110 §5.6.7, IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
    /// Written out by hand rather than by `strftime`, which is locale-aware and, for a
    /// header on every response, slow.
    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let day = days[Int(parts.tm_wday)]
        let month = months[Int(parts.tm_mon)]
        return
            "\(day), \(twoDigits(parts.tm_mday)) \(month) \(parts.tm_year + 1900) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

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
