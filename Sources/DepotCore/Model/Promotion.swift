import Foundation

extension Repository {
    public struct Promotion: Sendable, Codable {
        public var from: String
        public var to: String
        public var changes: [Change]
        public var dryRun: Bool
        /// The target's gates for what the promotion lists (none when it has no gates).
        public var gates: [GateCheck] = []
        /// The gates that were closed and that `overrideGates` let the promotion past.
        public var overriddenGates: [String] = []

        /// The gates that stop the promotion, unless overridden.
        public var closedGates: [GateCheck] { gates.filter { !$0.open } }
    }
}
