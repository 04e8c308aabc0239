import Foundation

extension Repository {
    public struct PushOutcome: Sendable, Codable {
        public enum Status: String, Sendable, Codable {
            /// Newly listed in the distribution.
            case added
            /// Already listed there: the same bytes were pushed before.
            case unchanged
        }
        public var file: String
        public var package: String
        public var version: String
        public var architecture: String
        public var poolPath: String
        public var status: Status
        /// Versions the push unlisted: beyond `Keep-Versions`, or newer ones on a downgrade.
        public var unlisted: [String]
    }
}
