import Foundation

extension Repository {
    /// A recorded approval of a file for promotion into a distribution.
    public struct Approval: Sendable, Hashable, Codable {
        public var distribution: String
        public var package: String
        public var version: String
        public var architecture: String
        public var user: String
        public var date: String
        public var note: String?
    }
}
