import DepotCore
import DepotTestSupport
import Foundation
import Testing

/// The operations called directly, as the command line, the API and the dashboard call them,
/// on both stores: what each returns, and each refusal as the typed error the fronts map to
/// an exit status or an HTTP status, with the repository left exactly as it was.
@Suite(.offThePool) struct OperationTests {
    enum StoreKind: String, CaseIterable, Sendable { case sqlite, postgresql }

    @Test(arguments: StoreKind.allCases) func everyOperationAnswersAndRefusesTheSameOnEachStore(_ kind: StoreKind)
        throws
    {
        let postgres = kind == .postgresql ? try PostgresServer() : nil
        defer { postgres?.stop() }
        if postgres != nil {
            setenv("PGPASSWORD", PostgresServer.password, 1)
            setenv("PGPASSFILE", "/nonexistent", 1)
        }
        let scratch = try ScratchStore(postgres: postgres)
        defer { scratch.remove() }
        try Self.workflow(scratch)
    }

    static let snowbird = TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")
    static let hello = TestSupport.fixture("real/hello_2.10-3_amd64.deb")

    static func workflow(_ scratch: ScratchStore) throws {
        let repository = scratch.repository
        func by(_ user: String, _ note: String? = nil) throws -> OperationContext {
            try OperationContext(user: user, command: "operation test", note: note)
        }

        // Push: added, then unchanged; the history entry carries the note.
        let pushed = try repository.push(
            [snowbird, hello], as: PushRequest(distribution: "development"), context: try by("ci", "build 7"))
        #expect(pushed.map(\.status) == [.added, .added])
        let again = try repository.push([snowbird], as: PushRequest(distribution: "development"), context: try by("ci"))
        #expect(again.map(\.status) == [.unchanged])
        #expect(try repository.list(distribution: "development").map(\.file.name).sorted() == ["hello", "snowbird"])
        let pushEntry = try #require(try repository.history(distribution: "development").first)
        #expect(pushEntry.operation == "push" && pushEntry.user == "ci" && pushEntry.note == "build 7")
        #expect(pushEntry.changes.map(\.package).sorted() == ["hello", "snowbird"])

        try scratch.expectRefused(
            "a push into production, which has gates", { if case .gatesClosed = $0 { true } else { false } }
        ) { try repository.push([snowbird], as: PushRequest(distribution: "production"), context: try by("ci")) }
        try scratch.expectRefused(
            "a push into an unknown component", { if case .unknownComponent = $0 { true } else { false } }
        ) {
            try repository.push(
                [snowbird], as: PushRequest(distribution: "development", component: "contrib"), context: try by("ci"))
        }

        // Promote and diff.
        #expect(try repository.diff(from: "development", to: "staging").map(\.kind) == [.new, .new])
        let promotion = try repository.promote(
            PromotionRequest(packages: ["snowbird", "hello"], from: "development"), context: try by("ops"))
        #expect(promotion.to == "staging" && promotion.changes.count == 2)
        #expect(try repository.diff(from: "development", to: "staging").isEmpty)
        try scratch.expectRefused(
            "a promotion naming no package", { if case .invalidArgument = $0 { true } else { false } }
        ) { try repository.promote(PromotionRequest(from: "development"), context: try by("ops")) }
        try scratch.expectRefused(
            "a promotion past an unmet approval", { if case .gatesClosed = $0 { true } else { false } }
        ) {
            try repository.promote(PromotionRequest(packages: ["snowbird", "hello"], from: "staging"), context: try by("ops"))
        }

        // Approve: not by the pusher, not twice, not without a version.
        try scratch.expectRefused("an approval by the pusher", { if case .selfApproval = $0 { true } else { false } }) {
            try repository.approve(
                ApprovalRequest(distribution: "production", package: "snowbird", version: "1.4.2-1"), context: try by("ci"))
        }
        let approvals = try repository.approve(
            ApprovalRequest(distribution: "production", naming: "snowbird=1.4.2-1"), context: try by("qa", "soaked"))
        #expect(approvals.map(\.architecture) == ["amd64"] && approvals.first?.note == "soaked")
        try scratch.expectRefused("a second approval", { if case .alreadyApproved = $0 { true } else { false } }) {
            try repository.approve(
                ApprovalRequest(distribution: "production", naming: "snowbird=1.4.2-1"), context: try by("qa"))
        }
        try scratch.expectRefused("an approval of no version", { if case .invalidArgument = $0 { true } else { false } }) {
            try repository.approve(ApprovalRequest(distribution: "production", naming: "snowbird"), context: try by("qa"))
        }
        try scratch.expectRefused("an approval of an unlisted version", { if case .notListed = $0 { true } else { false } }) {
            try repository.approve(
                ApprovalRequest(distribution: "production", naming: "snowbird=9.9-1"), context: try by("qa"))
        }
        _ = try repository.approve(
            ApprovalRequest(distribution: "production", naming: "hello=2.10-3"), context: try by("qa"))
        let shipped = try repository.promote(
            PromotionRequest(packages: ["snowbird", "hello"], from: "staging"), context: try by("ops"))
        #expect(shipped.changes.compactMap(\.after).sorted() == ["1.4.2-1", "2.10-3"])

        // Phase: a percentage, a ramp, and what is refused.
        let halted = try repository.phase(
            PhaseRequest(distribution: "production", package: "snowbird", percentage: 0), context: try by("ops"))
        #expect(halted.before == 100 && halted.after == 0 && halted.ramp == nil)
        let ramp = try repository.phase(
            PhaseRequest(distribution: "production", package: "snowbird", ramp: [10, 50, 100], every: "6h"),
            context: try by("ops"))
        #expect(ramp.after == 10 && ramp.ramp?.steps == [50, 100] && ramp.ramp?.every == 6 * 3600)
        #expect(try repository.ramps().map(\.package) == ["snowbird"])
        #expect(try repository.list(distribution: "production").first { $0.file.name == "snowbird" }?.phase == 10)
        for (bad, what) in [
            (PhaseRequest(distribution: "production", package: "snowbird", percentage: 101), "a percentage over 100"),
            (PhaseRequest(distribution: "production", package: "snowbird", ramp: [50, 10], every: "1h"), "a falling ramp"),
            (PhaseRequest(distribution: "production", package: "snowbird", ramp: [10, 50]), "a ramp without a time"),
            (PhaseRequest(distribution: "production", package: "snowbird", ramp: [10], every: "soon"), "a bad duration"),
            (PhaseRequest(distribution: "production", package: "snowbird", percentage: 5, ramp: [10], every: "1h"), "both"),
            (PhaseRequest(distribution: "production", package: "snowbird"), "neither"),
        ] {
            try scratch.expectRefused(what, { if case .invalidArgument = $0 { true } else { false } }) {
                try repository.phase(bad, context: try by("ops"))
            }
        }
        try scratch.expectRefused("a phase of an unlisted package", { if case .notListed = $0 { true } else { false } }) {
            try repository.phase(
                PhaseRequest(distribution: "production", package: "epochal", percentage: 5), context: try by("ops"))
        }

        // Remove, then roll the removal back.
        let removed = try repository.remove(
            RemovalRequest(distribution: "staging", packages: ["hello"]), context: try by("ops"))
        #expect(removed.map(\.before) == ["2.10-3"] && removed.map(\.after) == [nil])
        try scratch.expectRefused("a removal of what is not listed", { if case .notListed = $0 { true } else { false } }) {
            try repository.remove(RemovalRequest(distribution: "staging", packages: ["hello"]), context: try by("ops"))
        }
        try scratch.expectRefused("a removal naming nothing", { if case .invalidArgument = $0 { true } else { false } }) {
            try repository.remove(RemovalRequest(distribution: "staging", packages: []), context: try by("ops"))
        }
        let restored = try repository.rollback(
            RollbackRequest(distribution: "staging", packages: ["hello"]), context: try by("ops"))
        #expect(restored.changes.map(\.after) == ["2.10-3"])
        #expect(try repository.list(distribution: "staging").map(\.file.name).sorted() == ["hello", "snowbird"])
        try scratch.expectRefused(
            "a rollback to an entry that does not exist", { if case .unknownHistoryEntry = $0 { true } else { false } }
        ) { try repository.rollback(RollbackRequest(distribution: "staging", to: 9_999), context: try by("ops")) }
        try scratch.expectRefused(
            "a rollback of a package never changed there", { if case .nothingToRollBack = $0 { true } else { false } }
        ) {
            try repository.rollback(RollbackRequest(distribution: "development", packages: ["epochal"]), context: try by("ops"))
        }
        try scratch.expectRefused(
            "a rollback naming packages and an entry", { if case .invalidArgument = $0 { true } else { false } }
        ) {
            try repository.rollback(
                RollbackRequest(distribution: "staging", packages: ["hello"], to: 1), context: try by("ops"))
        }

        // Tokens: a name once, even after its revocation; an unknown one is not found.
        let secret = try repository.createToken(
            name: "ci", scopes: [try Scope(parsing: "push:development")], context: try by("admin"))
        #expect(try repository.authenticate(token: secret)?.name == "ci")
        try scratch.expectRefused("a token name taken", { if case .tokenNameTaken(_, nil) = $0 { true } else { false } }) {
            try repository.createToken(name: "ci", scopes: [try Scope(parsing: "read:*")], context: try by("admin"))
        }
        _ = try repository.revokeToken(name: "ci", context: try by("admin"))
        #expect(try repository.authenticate(token: secret) == nil)
        try scratch.expectRefused(
            "a revoked token's name", { if case .tokenNameTaken(_, .some) = $0 { true } else { false } }
        ) { try repository.createToken(name: "ci", scopes: [try Scope(parsing: "read:*")], context: try by("admin")) }
        try scratch.expectRefused("an unknown token", { if case .unknownToken = $0 { true } else { false } }) {
            try repository.revokeToken(name: "nobody", context: try by("admin"))
        }

        // What show and verify report after all of it.
        let report = try repository.show(package: "snowbird")
        #expect(report.versions.map(\.file.version) == ["1.4.2-1"])
        let verified = try repository.verify(deep: true)
        #expect(verified.passed, "\(verified.problems)")
        #expect(verified.poolFilesChecked == 2)

        // The outbox: one delivery for each change, in the order they were made, written with
        // it (a refused change wrote none: `expectRefused` compares the outbox too).
        let deliveries = try repository.webhookDeliveries(limit: 1000).reversed()
        let history = try repository.history().reversed()
        #expect(deliveries.compactMap(\.historyID) == history.map(\.id))
        #expect(
            deliveries.filter { $0.historyID != nil }.map(\.event)
                == history.map { $0.operation == "ramp-stopped" ? "phase" : $0.operation })
        // The two approvals, which history does not record, between the promotions.
        #expect(
            deliveries.map(\.event) == ["push", "promote", "approve", "approve", "promote", "phase", "phase", "remove", "rollback"])
        #expect(deliveries.allSatisfy { $0.state == .pending && $0.attempts == 0 })
    }
}


/// A repository made in-process in a temporary folder, on SQLite or on a database of a
/// PostgreSQL server; production has an approval gate.
final class ScratchStore {
    let root: URL
    let repository: Repository

    init(postgres: PostgresServer?) throws {
        root = try TestSupport.makeTemporaryDirectory("operations")
        var options = Repository.InitOptions()
        if let postgres {
            try postgres.createDatabase("operations")
            options.store = postgres.url("operations")
        }
        let made = try Repository.initialize(root: root.path, options: options)
        let configuration = try String(contentsOfFile: made.configurationPath, encoding: .utf8)
        // A webhook, for the outbox each change writes (nothing delivers it here).
        try (configuration.replacingOccurrences(
            of: "Distribution: production\n", with: "Distribution: production\nApprovals: 1\n")
            + "\nWebhook: http://127.0.0.1:9/events\n"
        ).write(toFile: made.configurationPath, atomically: true, encoding: .utf8)
        repository = try Repository(root: root.path)
        if postgres != nil { try repository.recordConfiguration() }
    }

    func remove() {
        _ = try? TestSupport.run("gpgconf", ["--homedir", root.path + "/.depot/gnupg", "--kill", "gpg-agent"])
        try? FileManager.default.removeItem(at: root)
    }

    /// Everything a refusal must leave as it was: listings, history, tokens, the webhook
    /// outbox, the published tree.
    func state() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let stored = try encoder.encode(try repository.list()) + encoder.encode(try repository.history())
            + encoder.encode(try repository.tokens().map(\.name))
            + encoder.encode(try repository.webhookDeliveries(limit: 10_000))
        let tree = try TestSupport.run("find", [repository.publicDirectory, "-type", "f", "-exec", "sha256sum", "{}", "+"])
        return String(decoding: stored, as: UTF8.self) + tree.text.split(separator: "\n").sorted().joined(separator: "\n")
    }

    /// Expects `body` to throw the error `matches` accepts, changing nothing.
    func expectRefused<T>(
        _ what: String, _ matches: (DepotError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> T
    ) throws {
        let before = try state()
        do {
            _ = try body()
            Issue.record("\(what) was not refused", sourceLocation: sourceLocation)
        } catch let error as DepotError {
            #expect(matches(error), "\(what): \(error)", sourceLocation: sourceLocation)
        }
        #expect(try state() == before, "\(what) changed the repository", sourceLocation: sourceLocation)
    }
}
