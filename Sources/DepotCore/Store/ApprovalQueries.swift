import Foundation

/// `approvals`: who approved which file for promotion into which distribution.
extension MetadataStore {
    /// Who approved each file for `distribution`.
    static func approvers(_ db: any StoreTransaction, distribution: String, fileIDs: [Int64]) throws
        -> [Int64: [String]]
    {
        let ids = try json(fileIDs)
        return Dictionary(
            grouping: try db.rows(
                """
                SELECT file_id, "user" FROM approvals
                WHERE distribution = ? AND file_id IN \(db.dialect.jsonArrayIntegers)
                """, [distribution, ids]),
            by: { $0["file_id"] as Int64 }
        ).mapValues { $0.map { $0["user"] as String } }
    }

    static func hasApproved(_ db: any StoreTransaction, user: String, fileID: Int64, into distribution: String) throws
        -> Bool
    {
        try db.exists(
            "SELECT 1 FROM approvals WHERE distribution = ? AND file_id = ? AND \"user\" = ?", [distribution, fileID, user])
    }

    static func recordApproval(
        _ db: any StoreTransaction, fileID: Int64, into distribution: String, context: OperationContext
    ) throws {
        try db.execute(
            "INSERT INTO approvals (distribution, file_id, \"user\", date, note) VALUES (?, ?, ?, ?, ?)",
            [distribution, fileID, context.user, context.timestamp, context.note])
    }

    /// Every approval of a file of this package, oldest first.
    static func approvals(_ db: any StoreTransaction, package: String) throws -> [Repository.Approval] {
        try db.rows(
            """
            SELECT a.distribution, f.name, f.version, f.architecture, a."user", a.date, a.note
            FROM approvals a JOIN package_files f ON f.id = a.file_id WHERE f.name = ? ORDER BY a.date, a."user"
            """, [package]
        ).map {
            Repository.Approval(
                distribution: $0["distribution"], package: $0["name"], version: $0["version"],
                architecture: $0["architecture"], user: $0["user"], date: $0["date"], note: $0["note"])
        }
    }
}
