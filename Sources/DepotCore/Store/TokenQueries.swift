import Foundation

/// `tokens` and `revoked_tokens`: the API's tokens by the SHA-256 of each, and the names of
/// revoked ones, which no later token takes.
extension MetadataStore {
    static let tokenColumns = "t.name, t.scopes, t.created_at"

    /// A row holding `tokenColumns`.
    static func tokenRecord(_ row: StoreRow) -> TokenRecord {
        let scopes = (try? JSONDecoder().decode([Scope].self, from: Data((row["scopes"] as String).utf8))) ?? []
        return TokenRecord(name: row["name"], scopes: scopes, created: row["created_at"])
    }

    static func tokens(_ db: any StoreTransaction) throws -> [TokenRecord] {
        try db.rows("SELECT \(tokenColumns) FROM tokens t ORDER BY t.name").map(tokenRecord)
    }

    static func token(_ db: any StoreTransaction, hash: String) throws -> TokenRecord? {
        try db.rows("SELECT \(tokenColumns) FROM tokens t WHERE t.hash = ?", [hash]).first.map(tokenRecord)
    }

    static func tokenExists(_ db: any StoreTransaction, name: String) throws -> Bool {
        try db.exists("SELECT 1 FROM tokens WHERE name = ?", [name])
    }

    /// When the token of this name was revoked, if one was.
    static func revocation(_ db: any StoreTransaction, name: String) throws -> String? {
        try db.value("SELECT revoked_at FROM revoked_tokens WHERE name = ?", [name])
    }

    static func insertToken(_ db: any StoreTransaction, name: String, hash: String, scopes: String, created: String)
        throws
    {
        try db.execute(
            "INSERT INTO tokens (name, hash, scopes, created_at) VALUES (?, ?, ?, ?)", [name, hash, scopes, created])
    }

    /// Deletes the token and reserves its name; its hash, or nil when there was no such token.
    static func revokeToken(_ db: any StoreTransaction, name: String, at date: String) throws -> String? {
        guard let hash: String = try db.value("DELETE FROM tokens WHERE name = ? RETURNING hash", [name]) else {
            return nil
        }
        try db.execute("INSERT INTO revoked_tokens (name, revoked_at) VALUES (?, ?)", [name, date])
        return hash
    }
}
