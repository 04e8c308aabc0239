import Foundation
import Logging
import Synchronization

/// swift-log's `StreamLogHandler` line, `TIME LEVEL LABEL: METADATA [SOURCE] MESSAGE`, on
/// standard error, with the time in UTC and formatted once a second: the stream handler formats
/// it through `localtime` and `strftime` for every message, which in the access log is a few
/// percent of what a small file costs to serve. Each line is one `write`.
struct LineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        let pretty =
            merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        let line = "\(Self.timestamp()) \(event.level) \(label):\(pretty) [\(event.source)] \(event.message)\n"
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    private static func timestamp() -> String {
        let seconds = time(nil)
        return current.withLock { cached in
            if cached.seconds != seconds {
                var now = seconds
                var parts = tm()
                gmtime_r(&now, &parts)
                func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
                cached = (
                    seconds,
                    "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))+0000"
                )
            }
            return cached.text
        }
    }

    private static let current = Mutex<(seconds: Int, text: String)>((0, ""))
}
