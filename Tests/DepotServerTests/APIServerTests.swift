import DepotCore
import DepotTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import DepotServer

/// The API in process, through the server `depot serve` runs (its channel, connection
/// tracking and router) on a port of its own: statuses, headers and JSON, with no server
/// process or curl between the test and the handlers.
@Suite(.serialized, .offThePool) struct APIServerTests {
    /// A repository made by the library, a token for each user, and the router of `depot serve`.
    final class Fixture {
        let folder: URL
        let repository: Repository

        init() throws {
            folder = try TestSupport.makeTemporaryDirectory("router")
            repository = try Repository.initialize(root: folder.path, options: .init())
        }

        func token(_ name: String, _ scopes: [String]) throws -> String {
            try repository.createToken(
                name: name, scopes: try scopes.map { try Scope(parsing: $0) },
                context: try OperationContext(user: "admin", command: "test"))
        }

        func push(_ fixture: String, to distribution: String, as user: String) throws {
            _ = try repository.push(
                [TestSupport.fixture(fixture)], as: PushRequest(distribution: distribution),
                context: try OperationContext(user: user, command: "test"))
        }

        deinit {
            _ = try? TestSupport.run("gpgconf", ["--homedir", folder.path + "/.depot/gnupg", "--kill", "gpg-agent"])
            try? FileManager.default.removeItem(at: folder)
        }
    }

    struct Answer {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var json: [String: Any]
        var error: String? { json["error"] as? String }
    }

    static func call(
        _ fixture: Fixture, _ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: String? = nil
    ) async throws -> Answer {
        let app = try Server().makeApplication(repository: fixture.repository, onListening: { _ in })
        return try await app.test(.live) { client in
            var headers = HTTPFields()
            if let token { headers[.authorization] = "Bearer \(token)" }
            return try await client.execute(
                uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }
            ) { response in
                let json = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
                return Answer(status: response.status, headers: response.headers, json: json ?? [:])
            }
        }
    }

    @Test func aMissingTokenIsAskedForAndAnUnknownOneRefused() async throws {
        let fixture = try Fixture()
        let missing = try await Self.call(fixture, .get, "/api/v1/distributions/development/packages")
        #expect(missing.status == .unauthorized && missing.error == "unauthorized")
        #expect(missing.headers[.wwwAuthenticate] == "Bearer realm=\"depot\"")
        let unknown = try await Self.call(
            fixture, .get, "/api/v1/distributions/development/packages", token: "depot_not-a-token")
        #expect(unknown.status == .unauthorized)
        let reader = try fixture.token("reader", ["read:development"])
        let other = try await Self.call(fixture, .get, "/api/v1/distributions/staging/packages", token: reader)
        #expect(other.status == .forbidden && other.error == "forbidden")
    }

    /// What is not there is a 404, a clash with what is there a 409, and what the user may
    /// not do whatever the token's scopes a 403: never the 400 of a malformed request.
    @Test func missingThingsAndConflictsHaveTheirOwnStatuses() async throws {
        let fixture = try Fixture()
        try fixture.push("good/snowbird_1.4.2-1_amd64.deb", to: "development", as: "ci")
        _ = try fixture.repository.promote(
            PromotionRequest(packages: ["snowbird"], from: "development", checkDependencies: false),
            context: try OperationContext(user: "ci", command: "test"))
        let ops = try fixture.token("ops", ["rollback:*", "approve:*", "promote:*"])
        let ci = try fixture.token("ci", ["approve:*"])

        let unknownEntry = try await Self.call(
            fixture, .post, "/api/v1/distributions/staging/rollback", token: ops, body: #"{"to": 999}"#)
        #expect(unknownEntry.status == .notFound && unknownEntry.error == "unknown-history-entry")
        let nothing = try await Self.call(
            fixture, .post, "/api/v1/distributions/production/rollback", token: ops,
            body: #"{"packages": ["snowbird"]}"#)
        #expect(nothing.status == .notFound && nothing.error == "nothing-to-roll-back")

        let approval = #"{"package": "snowbird", "version": "1.4.2-1"}"#
        let own = try await Self.call(
            fixture, .post, "/api/v1/distributions/production/approvals", token: ci, body: approval)
        #expect(own.status == .forbidden && own.error == "self-approval")
        let first = try await Self.call(
            fixture, .post, "/api/v1/distributions/production/approvals", token: ops, body: approval)
        #expect(first.status == .created)
        let again = try await Self.call(
            fixture, .post, "/api/v1/distributions/production/approvals", token: ops, body: approval)
        #expect(again.status == .conflict && again.error == "already-approved")

        let contradiction = try await Self.call(
            fixture, .post, "/api/v1/promotions", token: ops,
            body: #"{"packages": ["snowbird"], "from": "staging", "withDeps": true, "ignoreDependencies": true}"#)
        #expect(contradiction.status == .badRequest && contradiction.error == "invalid-request")
        #expect((contradiction.json["detail"] as? String)?.contains("contradict each other") == true)
    }

    @Test func healthzAnswersWithoutAToken() async throws {
        let fixture = try Fixture()
        let app = try Server().makeApplication(repository: fixture.repository, onListening: { _ in })
        try await app.test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
        }
    }
}
