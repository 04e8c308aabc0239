import Foundation

extension Repository {
    /// A phased rollout's steps still to come, carried out by `depot serve` or by
    /// `depot phase --advance`.
    public struct Ramp: Sendable, Hashable, Codable {
        public var distribution: String
        public var package: String
        public var version: String
        /// The percentages still to come, in order.
        public var steps: [Int]
        /// Seconds between steps.
        public var every: Int
        /// When the next step is due (ISO 8601, UTC).
        public var next: String
        /// Who set the ramp up: the user of the history entries of its steps.
        public var user: String
    }
}
