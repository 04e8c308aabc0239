import DebianFormat
import Foundation

/// Who runs an operation and why: what history records beside the change itself.
public struct OperationContext: Sendable {
    public var user: String
    public var command: String
    public var note: String?
    /// When the operation started, ISO 8601 in UTC: what history and the pool record.
    public var timestamp: String
    /// Whether whoever asked for the change has gone away (an API client that hung up): a
    /// change that waits for the repository is then not made at all.
    public var isCancelled: @Sendable () -> Bool = { false }

    /// The longest note history keeps, in bytes of UTF-8: a page that shows notes stays a page.
    public static let longestNote = 64 << 10

    /// Refuses a note with a NUL (the store would keep only the text before it) and one
    /// longer than `longestNote`.
    public init(user: String, command: String, note: String? = nil, date: Date = Date()) throws(DepotError) {
        if let note, note.utf8.contains(0) {
            throw .invalidArgument(
                "the note holds a NUL character, which history cannot keep; send the note without it")
        }
        if let note, note.utf8.count > Self.longestNote {
            throw .invalidArgument(
                "the note is \(note.utf8.count) bytes long; a note is at most \(Self.longestNote) bytes (64 KiB): "
                    + "link to longer text instead")
        }
        self.user = user
        self.command = command
        self.note = note
        self.timestamp = ISO8601DateFormatter().string(from: date)
    }

    /// `$USER@host` and the command line of this process.
    public static func currentProcess(note: String? = nil) throws(DepotError) -> OperationContext {
        let user =
            ProcessInfo.processInfo.environment["USER"] ?? getpwuid(getuid()).map {
                String(cString: $0.pointee.pw_name)
            } ?? "unknown"
        let host = ProcessInfo.processInfo.hostName
        let command = CommandLine.arguments.map { ($0 as NSString).lastPathComponent == "depot" ? "depot" : $0 }
        return try OperationContext(user: "\(user)@\(host)", command: command.joined(separator: " "), note: note)
    }
}
