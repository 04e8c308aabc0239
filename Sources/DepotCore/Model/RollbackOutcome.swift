import Foundation

extension Repository {
    public struct RollbackOutcome: Sendable, Codable {
        public var distribution: String
        /// The history entries whose changes were undone, newest first.
        public var undone: [Int64]
        public var changes: [Change]
        /// What the distribution lists afterwards whose `Depends` it no longer meets: the
        /// rollback is done as asked, and says what it left uninstallable.
        public var unmetDependencies: [UnmetDependency] = []
    }
}
