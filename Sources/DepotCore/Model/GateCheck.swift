import Foundation

extension Repository {
    /// One gate of a promotion for one package version: whether it is open, and if not, when
    /// or how it opens.
    public struct GateCheck: Sendable, Hashable, Codable {
        public enum Gate: String, Sendable, Codable {
            /// The promotion comes from a distribution whose `Promotes-To` is the gated one.
            case promotesTo = "Promotes-To"
            case minSoak = "Min-Soak"
            case approvals = "Approvals"
        }
        public var package: String
        public var version: String
        public var gate: Gate
        public var open: Bool
        /// One line: where the version stands and what the gate asks.
        public var detail: String
        /// When a closed `Min-Soak` gate opens (ISO 8601, UTC).
        public var opensAt: String?
        /// The users whose approvals count.
        public var approvedBy: [String]?
    }
}
