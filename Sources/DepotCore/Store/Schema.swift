/// The tables of the metadata store as the newest schema version has them, in an order that
/// keeps every reference pointing at a table listed before it.
///
/// Each store writes its own migrations (SQLite's and PostgreSQL's differ in types, triggers
/// and how an old store is brought forward); this is what they must arrive at. `store copy`
/// carries exactly these columns, and a test holds both stores' migrated schemas to it, so a
/// column added to one migration and not here fails that test instead of being lost by a copy.
enum Schema {
    struct Table: Sendable {
        var name: String
        var columns: [String]
        /// The columns that order its rows, for paging through it.
        var order: [String]
        /// An identity column: a counter that never goes back, whose values are copied, so that
        /// references to them still hold.
        var identity: String?

        /// The columns as SQL names: each quoted, since `user` is a keyword to PostgreSQL.
        var columnList: String { columns.map(Schema.quoted).joined(separator: ", ") }
        var orderList: String { order.map(Schema.quoted).joined(separator: ", ") }
    }

    static let tables = [
        Table(
            name: "package_files",
            columns: [
                "id", "name", "version", "architecture", "source", "pool_path", "size", "md5", "sha1", "sha256",
                "sha512", "control", "stanza", "added_at",
            ], order: ["id"], identity: "id"),
        Table(name: "provides", columns: ["file_id", "name", "version"], order: ["file_id", "name"]),
        Table(
            name: "history",
            columns: ["id", "date", "operation", "distribution", "user", "command", "note", "changes", "overridden_gates"],
            order: ["id"], identity: "id"),
        Table(name: "listings", columns: ["distribution", "component", "file_id", "phase"], order: ["distribution", "file_id"]),
        Table(
            name: "listing_journal",
            columns: [
                "sequence", "history_id", "distribution", "component", "file_id", "package", "version", "architecture",
                "listed", "phase",
            ], order: ["sequence"], identity: "sequence"),
        Table(
            name: "phase_ramps",
            columns: ["distribution", "package", "version", "steps", "every_seconds", "next_at", "user"],
            order: ["distribution", "package"]),
        Table(
            name: "approvals", columns: ["distribution", "file_id", "user", "date", "note"],
            order: ["distribution", "file_id", "user"]),
        Table(name: "sessions", columns: ["hash", "token_hash", "csrf", "expires", "began"], order: ["hash"]),
        Table(name: "tokens", columns: ["name", "hash", "scopes", "created_at"], order: ["name"]),
        Table(name: "revoked_tokens", columns: ["name", "revoked_at"], order: ["name"]),
        Table(name: "storage_garbage", columns: ["path", "since"], order: ["path"]),
        Table(name: "publication", columns: ["distribution", "recorded", "published", "signed_at"], order: ["distribution"]),
        Table(
            name: "webhook_deliveries",
            columns: [
                "id", "receiver", "delivery", "event", "history_id", "body", "recorded_at", "state", "attempts",
                "next_at", "finished_at", "last_error", "claimed_by", "claimed_until",
            ], order: ["id"], identity: "id"),
        Table(
            name: "made_distributions", columns: ["name", "template", "made_at", "expired_at", "unpublished"],
            order: ["name"]),
        Table(name: "repository_configuration", columns: ["configuration"], order: ["configuration"]),
    ]

    /// The tables a store keeps for itself, not for the repository: its schema version.
    static let bookkeeping: Set<String> = ["depot_schema", "grdb_migrations", "sqlite_sequence"]

    static func quoted(_ name: String) -> String { "\"\(name)\"" }
}
