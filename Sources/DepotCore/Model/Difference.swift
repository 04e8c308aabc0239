import Foundation

extension Repository {
    /// How a package and architecture differ between two distributions.
    public struct Difference: Sendable, Hashable, Codable {
        public enum Kind: String, Sendable, Codable {
            /// Listed in the first distribution only.
            case new
            /// Newer in the first distribution.
            case upgrade
            /// Older in the first distribution.
            case downgrade
            /// Listed in the second distribution only.
            case onlyInTarget = "only-in-target"
        }
        public var package: String
        public var architecture: String
        public var from: String?
        public var to: String?
        public var kind: Kind
    }
}
