import DepotTestSupport
import Foundation
import Testing

/// The metadata store in PostgreSQL (Debian's server, started for the suite on 127.0.0.1):
/// everything Depot does gives the same result as on SQLite.
@Suite(.serialized, .offThePool)
final class PostgresStoreTests {
    let server: PostgresServer

    init() throws { server = try PostgresServer() }

    deinit { server.stop() }

    static let goodPackages = TestSupport.fixtures(in: "good") + [TestSupport.fixture("real/hello_2.10-3_amd64.deb")]

    /// What a run of commands leaves: each distribution's listings, and the history's
    /// operations and changes (dates and users aside).
    static func outcome(of repository: ScratchRepository) throws -> [String] {
        var lines: [String] = []
        for distribution in ["development", "staging", "production"] {
            lines += try listed(repository, distribution).sorted().map { "\(distribution): \($0)" }
        }
        for entry in try repository.history() {
            let changes = entry.changes.map { "\($0.package) \($0.before ?? "-") -> \($0.after ?? "-")" }
            lines.append("\(entry.id) \(entry.operation) \(entry.distribution): \(changes.sorted())")
        }
        return lines
    }

    /// Push, promote, remove, rollback, gc, tokens and verify, the same on both stores.
    static func workflow(_ repository: ScratchRepository) throws {
        let builder = PackageBuilder()
        let steps: [[String]] = [
            ["push", "development"] + goodPackages + ["--note", "build 1"],
            ["promote", "--all", "--from", "development", "--ignore-dependencies"],
            ["push", "development", try builder.make("snowbird", "1.5.0-1", extra: ["Depends: libsnow1"])],
            ["promote", "snowbird", "--from", "development", "--ignore-dependencies"],
            ["remove", "staging", "bzipped"],
            ["rollback", "staging", "snowbird"],
            ["promote", "--all", "--from", "staging", "--ignore-dependencies", "--note", "release"],
            ["token", "create", "ci", "--allow", "push:development"],
            ["gc"],
            ["verify"],
        ]
        for step in steps {
            let result = try repository.depot(step)
            #expect(result.status == 0, "\(step): \(result.standardError)")
        }
        // Release control: a ramp under way, and an approval by another user.
        let ramp = try repository.depot(["phase", "production", "snowbird", "--ramp", "10,50", "--every", "6h"])
        #expect(ramp.status == 0, "\(ramp.standardError)")
        var environment = repository.environment ?? ProcessInfo.processInfo.environment
        environment["USER"] = "qa"
        let approval = try ScratchRepository(existing: repository.root, environment: environment)
            .depot(["approve", "staging", "snowbird=1.5.0-1", "--note", "QA-1"])
        #expect(approval.status == 0, "\(approval.standardError)")
    }

    @Test func theWorkflowEndsAlikeOnPostgreSQLAndSQLite() throws {
        try server.createDatabase("workflow")
        let postgres = try ScratchRepository(["--store", server.url("workflow")], environment: server.environment)
        defer { postgres.remove() }
        let sqlite = try ScratchRepository()
        defer { sqlite.remove() }
        #expect(!FileManager.default.fileExists(atPath: postgres.root.appendingPathComponent(".depot/depot.sqlite").path))

        try Self.workflow(postgres)
        try Self.workflow(sqlite)
        let outcome = try Self.outcome(of: postgres)
        #expect(outcome.count > 10)
        #expect(outcome == (try Self.outcome(of: sqlite)))
        #expect(try postgres.depot(["token", "list"]).text.contains("ci"))
        // The listing journal is written by the server's trigger, as SQLite's writes it.
        #expect(Int(try server.psql("SELECT count(*) FROM listing_journal WHERE history_id IS NULL", database: "workflow").trimmingCharacters(in: .whitespacesAndNewlines)) == 0)
        #expect(Int(try server.psql("SELECT count(*) FROM listing_journal", database: "workflow").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 10)

        // apt reads what the PostgreSQL store lists.
        let http = try StaticHTTPServer(serving: postgres.publicDirectory)
        defer { http.stop() }
        let apt = try postgres.aptClient("production", through: http)
        defer { apt.remove() }
        #expect(try apt.run(["update"]).status == 0)
        #expect(try apt.candidate("snowbird") == "1.4.2-1")
    }

    /// What the store answers, exactly: listings and history (dates, users and ids included),
    /// tokens, and a package's phases, approvals and ramp.
    static func answers(of repository: ScratchRepository) throws -> [Data] {
        try [["list", "--json"], ["history", "--json"], ["token", "list"], ["show", "snowbird", "--json"]].map {
            try repository.depot($0).standardOutput
        }
    }

    @Test func storeCopyMovesARepositoryToPostgreSQLAndBack() throws {
        let repository = try ScratchRepository(environment: server.environment)
        defer { repository.remove() }
        try Self.workflow(repository)
        let before = try Self.answers(of: repository)
        try server.createDatabase("copied")

        let copy = try repository.depot(["store", "copy", "--to", server.url("copied"), "--json"])
        try #require(copy.status == 0, "\(copy.standardError)")
        let report = try JSONSerialization.jsonObject(with: copy.standardOutput) as? [String: Any]
        let tables = report?["tables"] as? [[String: Any]] ?? []
        #expect(tables.first { $0["table"] as? String == "listing_journal" }?["rows"] as? Int ?? 0 > 10, "\(tables)")
        // Copying again finds the database taken.
        let again = try repository.depot(["store", "copy", "--to", server.url("copied")])
        #expect(again.status != 0 && again.standardError.contains("already holds a repository's data"), "\(again.standardError)")

        // The repository switched to the copy answers exactly as before, and verify passes.
        let sqlite = repository.root.appendingPathComponent(".depot/depot.sqlite")
        try FileManager.default.moveItem(at: sqlite, to: repository.root.appendingPathComponent("original.sqlite"))
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlite.path + suffix) }
        try repository.editConfiguration(replacing: "Origin: Depot", with: "Origin: Depot\nStore: \(server.url("copied"))")
        let onPostgres = ScratchRepository(existing: repository.root, environment: server.environment)
        #expect(try Self.answers(of: onPostgres) == before)
        let verify = try onPostgres.depot(["verify"])
        #expect(verify.status == 0, "\(verify.text)\(verify.standardError)")

        // Back into SQLite: a new file, which the repository then uses as its store.
        let back = repository.root.appendingPathComponent("back.sqlite")
        let refused = try onPostgres.depot(["store", "copy", "--to", repository.root.appendingPathComponent("original.sqlite").path])
        #expect(refused.status != 0 && refused.standardError.contains("exists"), "\(refused.standardError)")
        #expect(try onPostgres.depot(["store", "copy", "--to", back.path]).status == 0)
        try FileManager.default.moveItem(at: back, to: sqlite)
        try repository.editConfiguration(replacing: "\nStore: \(server.url("copied"))", with: "")
        #expect(try Self.answers(of: repository) == before)
        #expect(try repository.depot(["verify"]).status == 0)
        // The journal came along: a rollback on the copy undoes every change to production.
        let rollback = try repository.depot(["rollback", "production", "--to", "1"])
        #expect(rollback.status == 0, "\(rollback.standardError)")
        #expect(try listed(repository, "production").isEmpty)
    }

    /// A copy into PostgreSQL goes on counting where the source did: a file gc deleted lends
    /// its id to no later push, and a rollback naming it is refused.
    @Test func aStoreCopyCarriesTheCountersPastEveryIdGiven() throws {
        let repository = try ScratchRepository(environment: server.environment)
        defer { repository.remove() }
        let packages = PackageBuilder()
        let (entry, collected) = try PromiseTests.collectTheNewestFile(repository, packages)
        try server.createDatabase("counters")
        try #require(try repository.depot(["store", "copy", "--to", server.url("counters")]).status == 0)
        try FileManager.default.removeItem(at: repository.root.appendingPathComponent(".depot/depot.sqlite"))
        try repository.editConfiguration(replacing: "Origin: Depot", with: "Origin: Depot\nStore: \(server.url("counters"))")
        let copy = ScratchRepository(existing: repository.root, environment: server.environment)
        // (Retain-History was set after init, by hand.)
        try #require(try copy.depot(["store", "record-configuration"]).status == 0)
        let pushed = try copy.depot(["push", "development", try packages.make("gull", "1.0-1")])
        try #require(pushed.status == 0, "\(pushed.standardError)")
        let gull = try #require(try PromiseTests.fileIDs(copy, "gull")["1.0-1"])
        #expect(gull > collected, "the copy gave id \(gull), at or below the collected file's \(collected)")
        try expectRefusals(
            copy, [(["rollback", "production", "--to", String(entry)], "cannot restore tern 2.0-1 (amd64) in production: gc deleted it")])
        let ids = try copy.history().map(\.id)
        #expect(Set(ids).count == ids.count, "a history id was given twice: \(ids)")
    }

    /// `sslmode` as libpq takes it, against a server that speaks TLS only, with a certificate
    /// for db.example signed by an authority the test made.
    @Test func sslModesAreHonouredAndRequireNeverSpeaksClearText() throws {
        let tls = try PostgresServer(tls: true)
        defer { tls.stop() }
        let ca = tls.certificateAuthority
        let cases: [(query: String, refusal: String?)] = [
            ("", nil),
            ("?sslmode=require", nil),
            ("?sslmode=verify-ca&sslrootcert=\(ca)", nil),
            ("?sslmode=disable", "no encryption"),
            ("?sslmode=verify-ca&sslrootcert=\(tls.otherCertificateAuthority)", "certificate"),
            ("?sslmode=verify-full&sslrootcert=\(ca)", "certificate"),
        ]
        for (number, (query, refusal)) in cases.enumerated() {
            try tls.createDatabase("tls\(number)")
            let root = try TestSupport.makeTemporaryDirectory("repo")
            defer { try? FileManager.default.removeItem(at: root) }
            let result = try TestSupport.run(
                TestSupport.depotExecutable, ["--root", root.path, "init", "--store", tls.url("tls\(number)") + query],
                environment: tls.environment)
            if let refusal {
                #expect(result.status != 0, "\(query) connected")
                #expect(
                    result.standardError.hasPrefix("depot: error: ") && result.standardError.lowercased().contains(refusal),
                    "\(query): \(result.standardError)")
                #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "\(query) left files")
            } else {
                #expect(result.status == 0, "\(query): \(result.standardError)")
                let repository = ScratchRepository(existing: root, environment: tls.environment)
                #expect(try repository.depot(["push", "development", TestSupport.fixture("real/hello_2.10-3_amd64.deb")]).status == 0)
                #expect(try repository.depot(["verify"]).status == 0)
            }
        }
    }

    /// The server cuts Depot's connections again and again while pushes of 40 packages run:
    /// a push that loses its connection fails with one line and leaves none of its packages
    /// behind; one that committed keeps all of them; the repository stays whole.
    @Test func aConnectionLostMidTransactionLeavesNothingHalfDone() throws {
        try server.createDatabase("severed")
        let repository = try ScratchRepository(["--store", server.url("severed")], environment: server.environment)
        defer { repository.remove() }
        let builder = PackageBuilder()
        var failures: [String] = []
        for round in 0..<12 where failures.count < 2 {
            let files = try (0..<40).map { try builder.make("round\(round)-package\($0)", "1.0-1") }
            // One shell loop cuts the connections until told to stop, as fast as psql starts.
            let stopFile = repository.root.appendingPathComponent("stop-cutting").path
            let cutter = Process()
            cutter.executableURL = URL(fileURLWithPath: "/bin/sh")
            cutter.arguments = [
                "-c",
                """
                while [ ! -e '\(stopFile)' ]; do
                    '\(server.psqlPath)' -h 127.0.0.1 -p \(server.port) -U \(PostgresServer.user) -d postgres -tA -c \
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'severed' AND pid <> pg_backend_pid()" >/dev/null
                done
                """,
            ]
            cutter.environment = server.environment
            try cutter.run()
            let pushed = Result { try repository.depot(["push", "development"] + files) }
            FileManager.default.createFile(atPath: stopFile, contents: nil)
            cutter.waitUntilExit()
            try FileManager.default.removeItem(atPath: stopFile)
            let push = try pushed.get()
            let listedThisRound = try listed(repository, "development").filter { $0.hasPrefix("round\(round)-") }
            if push.status != 0 {
                failures.append(push.standardError)
                #expect(push.standardError.hasPrefix("depot: error: "), "\(push.standardError)")
                #expect(push.standardError.split(separator: "\n").count == 1, "\(push.standardError)")
                #expect(push.standardError.contains("postgresql://depot@127.0.0.1"), "\(push.standardError)")
            }
            // All or nothing: a push whose transaction was cut lists none of its packages.
            #expect(listedThisRound.isEmpty || listedThisRound.count == 40, "round \(round): \(listedThisRound.count) listed")
            if push.status == 0 { #expect(listedThisRound.count == 40) }
        }
        #expect(!failures.isEmpty, "no push lost its connection")
        // What a cut publish left, the next command publishes; then everything checks out.
        #expect(try repository.depot(["publish"]).status == 0)
        let verify = try repository.depot(["verify"])
        #expect(verify.status == 0 && !verify.text.contains("not yet published"), "\(verify.text)\(verify.standardError)")
    }

    @Test func aStoreDepotCannotUseIsOneLineAndNothingIsMade() throws {
        try server.createDatabase("accounting")
        try server.psql("CREATE TABLE invoices (id INTEGER)", database: "accounting")
        try server.createDatabase("newer")
        try server.createDatabase("taken")
        let taken = try ScratchRepository(["--store", server.url("taken")], environment: server.environment)
        defer { taken.remove() }
        // A schema from a Depot newer than this one.
        let newer = try ScratchRepository(["--store", server.url("newer")], environment: server.environment)
        try server.psql("UPDATE depot_schema SET version = 99", database: "newer")
        let refusedByNewer = try newer.depot(["list"])
        #expect(refusedByNewer.standardError.contains("migrated by a newer Depot"), "\(refusedByNewer.standardError)")
        newer.remove()

        let wrongPassword = server.environment.merging(["PGPASSWORD": "wrong"]) { $1 }
        let cases: [(String, [String: String], String)] = [
            (server.url("accounting"), server.environment, "tables that are not Depot's (invoices)"),
            (server.url("taken"), server.environment, "already holds a repository"),
            (server.url("missing"), server.environment, "create the database"),
            (server.url("accounting"), wrongPassword, "check the user in Store: and the password"),
            ("postgresql://depot@127.0.0.1:9/depot", server.environment, "cannot reach the PostgreSQL server"),
            ("postgresql://depot:hunter2@127.0.0.1/depot", server.environment, "a password does not belong in the store's address"),
            ("postgresql://depot:hunter2@127.0.0.1/depot?sslmode=sometimes", server.environment, "a password does not belong"),
            (server.url("depot") + "?sslmode=sometimes", server.environment, "sslmode must be one of disable, prefer, require, verify-ca, verify-full"),
            (server.url("depot") + "?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", server.environment, "cannot read the certificate authority of sslrootcert (/nonexistent/ca.pem)"),
            (server.url("depot") + "?sslcert=x", server.environment, "unknown parameter 'sslcert'"),
        ]
        for (url, environment, message) in cases {
            let root = try TestSupport.makeTemporaryDirectory("repo")
            defer { try? FileManager.default.removeItem(at: root) }
            let result = try TestSupport.run(
                TestSupport.depotExecutable, ["--root", root.path, "init", "--store", url], environment: environment)
            #expect(result.status != 0, "\(url)")
            #expect(
                result.standardError.hasPrefix("depot: error: ") && result.standardError.contains(message),
                "\(url): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
            #expect(!result.standardError.contains("hunter2"), "an error repeated the password: \(result.standardError)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "\(url) left files")
        }
        #expect(try server.psql("SELECT count(*) FROM invoices", database: "accounting").hasPrefix("0"))
    }
}
