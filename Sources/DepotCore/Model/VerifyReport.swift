import Foundation

extension Repository {
    public struct VerifyReport: Sendable, Codable {
        /// Each problem names the file or distribution and what is wrong with it.
        public var problems: [String]
        /// Facts worth knowing that are not damage, such as changes waiting to be published.
        public var notes: [String]
        public var poolFilesChecked: Int
        public var indicesChecked: Int

        public var passed: Bool { problems.isEmpty }
    }
}
