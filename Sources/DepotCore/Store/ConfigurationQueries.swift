import DebianFormat
import Foundation

/// `repository_configuration`: the depot.conf every node must agree with.
extension MetadataStore {
    /// The configuration the repository was made with, or last recorded for every node.
    static func recordedConfiguration(_ db: any StoreTransaction) throws -> String? {
        try db.value("SELECT configuration FROM repository_configuration")
    }

    static func holdsRepository(_ db: any StoreTransaction) throws -> Bool {
        try db.exists("SELECT 1 FROM repository_configuration")
    }

    /// Records `text` as the configuration, in place of any earlier one.
    static func recordConfiguration(_ db: any StoreTransaction, _ text: String) throws {
        try db.execute("DELETE FROM repository_configuration")
        try db.execute("INSERT INTO repository_configuration (configuration) VALUES (?)", [text])
    }
}
