import Crypto
import DebianFormat
import Foundation

extension Repository {
    /// Makes a token for the HTTP API and returns it; only its SHA-256 is stored, so this is
    /// the one time it can be seen.
    public func createToken(name: String, scopes: [Scope], context: OperationContext) throws -> String {
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenNameByte) else {
            throw DepotError.invalidArgument(
                "invalid token name '\(name)': use letters, digits, '-', '_' and '.' (it is the user in history)")
        }
        guard !scopes.isEmpty else { throw DepotError.invalidArgument("a token needs at least one --allow SCOPE") }
        for scope in scopes where scope.distribution != "*" {
            if scope.distribution.hasSuffix("*") {
                guard configuration.templates.contains(where: { $0.name == scope.distribution }) else {
                    throw DepotError.invalidArgument(
                        "invalid scope '\(scope)': depot.conf has no template \(scope.distribution) "
                            + "(templates: \(configuration.templates.map(\.name).joined(separator: ", ")))")
                }
            } else {
                try requireDistribution(scope.distribution)
            }
        }
        let token = "depot_" + Self.randomTokenBody()
        let scopesJSON = try MetadataStore.json(scopes)
        try write { db in
            guard try !MetadataStore.tokenExists(db, name: name) else {
                throw DepotError.tokenNameTaken(name, revokedAt: nil)
            }
            if let revoked = try MetadataStore.revocation(db, name: name) {
                throw DepotError.tokenNameTaken(name, revokedAt: revoked)
            }
            try MetadataStore.insertToken(
                db, name: name, hash: Self.tokenHash(token), scopes: scopesJSON, created: context.timestamp)
        }
        return token
    }

    public func tokens() throws -> [TokenRecord] {
        try read { db in try MetadataStore.tokens(db) }
    }

    /// Deletes a token: its requests get 401, its dashboard sessions end, and its name is never
    /// given to another token. The ramps it
    /// started stop (the steps still to come are not taken), each recorded in history: a
    /// revoked user no longer widens a rollout. Returns those ramps.
    @discardableResult
    public func revokeToken(name: String, context: OperationContext) throws -> [Ramp] {
        // A stopped ramp changes no listing: nothing to publish.
        try change("token revocation", context: context) { notes in
            notes.publishes = false
            return try write { db in
                guard let hash = try MetadataStore.revokeToken(db, name: name, at: context.timestamp) else {
                    throw DepotError.unknownToken(name)
                }
                try MetadataStore.endSessions(db, tokenHash: hash)
                let ramps = try MetadataStore.ramps(db).filter { $0.user == name }
                for ramp in ramps {
                    try MetadataStore.stopRamps(db, distribution: ramp.distribution, packages: [ramp.package])
                    var stopped = context
                    stopped.note =
                        "token \(name) revoked: the ramp of \(ramp.package) \(ramp.version) stopped, "
                        + "steps not taken: " + ramp.steps.map { "\($0)%" }.joined(separator: ", ")
                    _ = try MetadataStore.recordHistory(
                        db, operation: "ramp-stopped", distribution: ramp.distribution, context: stopped, changes: [],
                        notifying: self.configuration.webhooks)
                }
                return ramps
            }
        }
    }

    /// The token's record, or nil when no such token exists (or it was revoked).
    public func authenticate(token: String) throws -> TokenRecord? {
        try read { db in try MetadataStore.token(db, hash: Self.tokenHash(token)) }
    }

    /// 32 random bytes, base64url without padding.
    static func randomTokenBody() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Tokens are long and random: one SHA-256 is enough, no slow password hash needed.
    static func tokenHash(_ token: String) -> String {
        lowercaseHex(SHA256.hash(data: Array(token.utf8)))
    }
}

private func isTokenNameByte(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
        || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
}
