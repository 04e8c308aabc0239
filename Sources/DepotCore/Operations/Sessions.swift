import Foundation

extension Repository {
    /// Signs in with an API token: the cookie to give the browser, or nil for a token that
    /// does not exist (or was revoked). Ends sessions that expired meanwhile.
    public func signIn(token: String, now: Date = Date()) throws -> String? {
        guard try authenticate(token: token) != nil else { return nil }
        let cookie = Self.randomTokenBody()
        let expires = now.addingTimeInterval(Double(configuration.sessionLifetime))
        try write { db in
            try db.execute("DELETE FROM sessions WHERE expires < ?", [Int64(now.timeIntervalSince1970)])
            try db.execute(
                "INSERT INTO sessions (hash, token_hash, csrf, expires, began) VALUES (?, ?, ?, ?, ?)",
                [
                    Self.tokenHash(cookie), Self.tokenHash(token), Self.randomTokenBody(),
                    Int64(expires.timeIntervalSince1970), Int64(now.timeIntervalSince1970 * 1_000_000),
                ])
            // A token signed in over and over keeps only its latest sessions.
            try db.execute(
                """
                DELETE FROM sessions WHERE token_hash = ? AND hash NOT IN (
                    SELECT hash FROM sessions WHERE token_hash = ? ORDER BY began DESC LIMIT ?)
                """, [Self.tokenHash(token), Self.tokenHash(token), Self.sessionsPerToken])
        }
        return cookie
    }

    /// The most sessions one token has at once: each further sign-in ends its oldest.
    public static let sessionsPerToken = 20

    /// The session of a cookie, unless it expired, was signed out, or its token was revoked.
    public func session(cookie: String, now: Date = Date()) throws -> DashboardSession? {
        try read { db in
            try db.rows(
                """
                SELECT t.name, t.scopes, t.created_at, s.csrf FROM sessions s
                JOIN tokens t ON t.hash = s.token_hash WHERE s.hash = ? AND s.expires > ?
                """, [Self.tokenHash(cookie), Int64(now.timeIntervalSince1970)]
            ).first.map { row in
                DashboardSession(token: Self.tokenRecord(row), csrf: row[3])
            }
        }
    }

    public func signOut(cookie: String) throws {
        try write { db in try db.execute("DELETE FROM sessions WHERE hash = ?", [Self.tokenHash(cookie)]) }
    }
}
