import Foundation

/// `sessions`: the dashboard's signed-in browsers, by the hash of their cookie, each acting as
/// the token whose hash it keeps.
extension MetadataStore {
    /// Starts a session, ends the expired ones, and keeps only the token's newest `limit`.
    static func startSession(
        _ db: any StoreTransaction, hash: String, tokenHash: String, csrf: String, expires: Int64, now: Date,
        limit: Int
    ) throws {
        try db.execute("DELETE FROM sessions WHERE expires < ?", [Int64(now.timeIntervalSince1970)])
        try db.execute(
            "INSERT INTO sessions (hash, token_hash, csrf, expires, began) VALUES (?, ?, ?, ?, ?)",
            [hash, tokenHash, csrf, expires, Int64(now.timeIntervalSince1970 * 1_000_000)])
        try db.execute(
            """
            DELETE FROM sessions WHERE token_hash = ? AND hash NOT IN (
                SELECT hash FROM sessions WHERE token_hash = ? ORDER BY began DESC LIMIT ?)
            """, [tokenHash, tokenHash, limit])
    }

    /// The session of this cookie hash, unless it expired or its token is gone.
    static func session(_ db: any StoreTransaction, hash: String, now: Date) throws -> DashboardSession? {
        try db.rows(
            """
            SELECT \(tokenColumns), s.csrf FROM sessions s
            JOIN tokens t ON t.hash = s.token_hash WHERE s.hash = ? AND s.expires > ?
            """, [hash, Int64(now.timeIntervalSince1970)]
        ).first.map { DashboardSession(token: tokenRecord($0), csrf: $0["csrf"]) }
    }

    static func endSession(_ db: any StoreTransaction, hash: String) throws {
        try db.execute("DELETE FROM sessions WHERE hash = ?", [hash])
    }

    static func endSessions(_ db: any StoreTransaction, tokenHash: String) throws {
        try db.execute("DELETE FROM sessions WHERE token_hash = ?", [tokenHash])
    }
}
