import Foundation

extension Repository {
    /// Signs in with an API token: the cookie to give the browser, or nil for a token that
    /// does not exist (or was revoked). Ends sessions that expired meanwhile.
    public func signIn(token: String, now: Date = Date()) throws -> String? {
        guard try authenticate(token: token) != nil else { return nil }
        let cookie = Self.randomTokenBody()
        let expires = now.addingTimeInterval(Double(configuration.sessionLifetime))
        // A token signed in over and over keeps only its latest sessions.
        try write { db in
            try MetadataStore.startSession(
                db, hash: Self.tokenHash(cookie), tokenHash: Self.tokenHash(token), csrf: Self.randomTokenBody(),
                expires: Int64(expires.timeIntervalSince1970), now: now, limit: Self.sessionsPerToken)
        }
        return cookie
    }

    /// The most sessions one token has at once: each further sign-in ends its oldest.
    public static let sessionsPerToken = 20

    /// The session of a cookie, unless it expired, was signed out, or its token was revoked.
    public func session(cookie: String, now: Date = Date()) throws -> DashboardSession? {
        try read { db in try MetadataStore.session(db, hash: Self.tokenHash(cookie), now: now) }
    }

    public func signOut(cookie: String) throws {
        try write { db in try MetadataStore.endSession(db, hash: Self.tokenHash(cookie)) }
    }
}
