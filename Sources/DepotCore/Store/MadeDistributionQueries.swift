/// `made_distributions`: the distributions pushes made from templates.
extension MetadataStore {
    /// A distribution a template made, as the store records it.
    struct MadeDistribution: Sendable {
        var name: String
        var template: String
        var madeAt: Int64
        var expiredAt: Int64?
        var unpublished: Bool
    }

    static func madeDistributions(_ db: any StoreTransaction) throws -> [MadeDistribution] {
        try db.rows("SELECT name, template, made_at, expired_at, unpublished FROM made_distributions ORDER BY name").map {
            MadeDistribution(
                name: $0["name"], template: $0["template"], madeAt: $0["made_at"], expiredAt: $0["expired_at"],
                unpublished: $0["unpublished"])
        }
    }

    /// Whether `name` was made and has not expired.
    static func isLive(_ db: any StoreTransaction, _ name: String) throws -> Bool {
        try db.exists("SELECT 1 FROM made_distributions WHERE name = ? AND expired_at IS NULL", [name])
    }

    /// Records that a push made `name` from `template` (again, after it expired).
    static func recordMade(_ db: any StoreTransaction, _ name: String, template: String, at now: Int64) throws {
        try db.execute(
            """
            INSERT INTO made_distributions (name, template, made_at, expired_at, unpublished) VALUES (?, ?, ?, NULL, 0)
            ON CONFLICT (name) DO UPDATE SET template = excluded.template, made_at = excluded.made_at,
                expired_at = NULL, unpublished = 0
            """, [name, template, now])
    }

    static func recordExpired(_ db: any StoreTransaction, _ name: String, at now: Int64) throws {
        try db.execute("UPDATE made_distributions SET expired_at = ? WHERE name = ?", [now, name])
    }

    static func recordUnpublished(_ db: any StoreTransaction, _ name: String) throws {
        try db.execute("UPDATE made_distributions SET unpublished = 1 WHERE name = ? AND expired_at IS NOT NULL", [name])
    }

    /// The date of the latest history entry of `distribution` (ISO 8601, UTC), if any.
    static func lastChange(_ db: any StoreTransaction, of distribution: String) throws -> String? {
        try db.value("SELECT date FROM history WHERE distribution = ? ORDER BY id DESC LIMIT 1", [distribution])
    }
}
