import AptRepository
import DebianFormat
import Foundation

extension Repository {
    public struct PackageReport: Sendable, Codable {
        public struct Version: Sendable, Codable {
            public var file: PackageFile
            public var distributions: [String]
            /// The distributions that list the file phased, and their percentage.
            public var phases: [String: Int]
            public var approvals: [Approval]
        }
        /// A history entry that listed or unlisted one of the package's files.
        public struct Event: Sendable, Codable {
            public var history: Int64
            public var date: String
            public var operation: String
            public var distribution: String
            public var version: String
            public var architecture: String
            /// True when the entry listed the file there, false when it unlisted it.
            public var listed: Bool
            public var phase: Int?
            public var user: String
            public var note: String?
        }
        public var name: String
        public var versions: [Version]
        /// Newest first.
        public var events: [Event]
        public var ramps: [Ramp]
    }
}
