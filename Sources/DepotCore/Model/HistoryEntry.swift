import DebianFormat
import Foundation

public struct HistoryEntry: Sendable, Hashable, Codable {
    public var id: Int64
    public var date: String
    public var operation: String
    public var distribution: String
    public var user: String
    public var command: String
    public var note: String?
    public var changes: [Change]
    /// The promotion gates a promotion was let past with `--override-gates`.
    public var overriddenGates: [String]?
}
