import DebianFormat
import Foundation

/// One change a history entry records: a package's version in a distribution before and
/// after (nil when absent).
public struct Change: Sendable, Hashable, Codable {
    public var package: String
    public var architecture: String
    public var before: String?
    public var after: String?
    /// The phase of the newest version before and after, when either is phased (nil: fully
    /// rolled out, or absent).
    public var beforePhase: Int?
    public var afterPhase: Int?

    public init(
        package: String, architecture: String, before: String?, after: String?, beforePhase: Int? = nil,
        afterPhase: Int? = nil
    ) {
        self.package = package
        self.architecture = architecture
        self.before = before
        self.after = after
        self.beforePhase = beforePhase
        self.afterPhase = afterPhase
    }
}
