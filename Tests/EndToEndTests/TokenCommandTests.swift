import DepotTestSupport
import Foundation
import Testing

/// Tokens are shown once, stored hashed, and checked for scopes that make sense.
@Suite struct TokenCommandTests {
    @Test func aTokenIsPrintedOnceStoredHashedAndRevocable() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let created = try repository.depot([
            "token", "create", "ci", "--allow", "push:development", "--allow", "read:*",
        ])
        #expect(created.status == 0, "\(created.standardError)")
        let token = created.text.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("depot_") && token.count > 40)

        let listed = try repository.depot(["token", "list", "--json"])
        let tokens = try JSONSerialization.jsonObject(with: listed.standardOutput) as? [[String: Any]] ?? []
        #expect(tokens.count == 1)
        #expect(tokens.first?["name"] as? String == "ci")
        #expect(tokens.first?["scopes"] as? [String] == ["push:development", "read:*"])
        #expect(!listed.text.contains(token))
        // Nowhere on disk is the token itself.
        for (path, content) in try repository.snapshot() {
            #expect(!String(decoding: content, as: UTF8.self).contains(token), "\(path) holds the token")
        }

        try expectRefusals(
            repository,
            [
                (["token", "create", "ci", "--allow", "push:staging"], "a token named 'ci' exists"),
                (["token", "create", "x", "--allow", "pull:staging"], "invalid scope 'pull:staging'"),
                (["token", "create", "x", "--allow", "push:nowhere"], "unknown distribution 'nowhere'"),
                (["token", "create", "x"], "a token needs at least one --allow SCOPE"),
                (["token", "create", "../x", "--allow", "read:*"], "invalid token name '../x'"),
                (["token", "revoke", "nobody"], "no token named 'nobody'"),
            ])

        #expect(try repository.depot(["token", "revoke", "ci"]).status == 0)
        #expect(try repository.depot(["token", "list"]).text == "NAME  CREATED  SCOPES\n")
        // The name stays the revoked token's: history and approvals name users by it.
        try expectRefusals(
            repository, [(["token", "create", "ci", "--allow", "push:staging"], "a token named 'ci' was revoked at")])
        #expect(try repository.depot(["token", "create", "ci-2", "--allow", "push:staging"]).status == 0)
    }
}
