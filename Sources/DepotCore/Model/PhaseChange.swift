import Foundation

extension Repository {
    /// One change of a rollout's percentage.
    public struct PhaseChange: Sendable, Codable {
        public var distribution: String
        public var package: String
        public var version: String
        /// The percentage before and after (100: fully rolled out, no field).
        public var before: Int
        public var after: Int
        /// The ramp that goes on after this change, if any.
        public var ramp: Ramp?
        /// One per architecture; empty when the percentage already was the one asked for.
        public var changes: [Change]
    }
}
