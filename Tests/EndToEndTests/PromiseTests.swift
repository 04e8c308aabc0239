import DepotTestSupport
import Foundation
import Testing

/// What was tested is what ships, on every path (SPEC §6, §7, §11): ids are never given
/// twice, gates have no side doors, no input crashes Depot, nothing expires by itself, and
/// the dashboard shows only what a token may read.
@Suite struct PromiseTests {
    /// The id `show --json` gives each version of a package.
    static func fileIDs(_ repository: ScratchRepository, _ package: String) throws -> [String: Int64] {
        let show = try repository.depot(["show", package, "--json"])
        guard show.status == 0 else { throw TestSupportError("depot show failed: \(show.standardError)") }
        let report = try JSONSerialization.jsonObject(with: show.standardOutput) as? [String: Any] ?? [:]
        var ids: [String: Int64] = [:]
        for version in report["versions"] as? [[String: Any]] ?? [] {
            let file = version["file"] as? [String: Any] ?? [:]
            ids[file["version"] as? String ?? ""] = (file["id"] as? NSNumber)?.int64Value
        }
        return ids
    }

    static func latestEntry(_ repository: ScratchRepository, _ distribution: String) throws -> Int64 {
        try #require(try repository.history(distribution).first?.id)
    }

    /// Makes gc delete the newest file of the pool: tern 2.0-1, promoted to production (whose
    /// history entry is returned), rolled back in both distributions and beyond every window
    /// (`Retain-History: 1`). Returns that entry and the collected file's id.
    static func collectTheNewestFile(_ repository: ScratchRepository, _ packages: PackageBuilder) throws
        -> (entry: Int64, collected: Int64)
    {
        try repository.editConfiguration(replacing: "Origin: Depot\n", with: "Origin: Depot\nRetain-History: 1\n")
        for (arguments, what) in [
            (["push", "staging", try packages.make("tern", "1.0-1")], "push 1.0-1"),
            (["promote", "tern", "--from", "staging"], "promote 1.0-1"),
            (["push", "staging", try packages.make("tern", "2.0-1")], "push 2.0-1"),
            (["promote", "tern", "--from", "staging"], "promote 2.0-1"),
        ] {
            let result = try repository.depot(arguments)
            try #require(result.status == 0, "\(what): \(result.standardError)")
        }
        let entry = try latestEntry(repository, "production")
        let collected = try #require(try fileIDs(repository, "tern")["2.0-1"])
        for arguments in [
            ["rollback", "production", "tern"], ["rollback", "staging", "tern"],
            ["phase", "production", "tern", "50"], ["phase", "staging", "tern", "50"], ["gc"],
        ] {
            let result = try repository.depot(arguments)
            try #require(result.status == 0, "\(arguments): \(result.standardError)")
        }
        try #require(try fileIDs(repository, "tern").keys.sorted() == ["1.0-1"], "gc kept tern 2.0-1")
        return (entry, collected)
    }

    @Test func anIdGCFreedIsNeverGivenAgainNorDoesARollbackApplyToAnotherFile() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        let (entry, collected) = try Self.collectTheNewestFile(repository, packages)

        try #require(try repository.depot(["push", "development", try packages.make("gull", "1.0-1")]).status == 0)
        let gull = try #require(try Self.fileIDs(repository, "gull")["1.0-1"])
        #expect(gull > collected, "the next push got id \(gull), at or below the collected file's \(collected)")

        // A rollback that needs the collected file says so, and changes nothing: it never lists
        // another file that took its id.
        try expectRefusals(
            repository, [
                (["rollback", "production", "--to", String(entry)], "cannot restore tern 2.0-1 (amd64) in production: gc deleted it")
            ])
        #expect(try listed(repository, "production") == ["tern 1.0-1 amd64"])
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func gatesHoldOnEveryPathIntoAGatedDistribution() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Distribution: production\n", with: "Distribution: production\nMin-Soak: 2s\n")
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "development", try packages.make("tern", "1.0-1")]).status == 0)
        let gull = try packages.make("gull", "1.0-1")

        // Around staging, and straight in: refused, naming the gate and the way round.
        try expectRefusals(
            repository, [
                (["promote", "tern", "--from", "development", "--to", "production"], "(Promotes-To); promote it into staging first"),
                (["push", "production", gull], "push refused by its gates: production has promotion gates (Min-Soak)"),
            ])
        let dryRun = try repository.depot(["promote", "tern", "--from", "development", "--to", "production", "--dry-run", "--json"])
        #expect(dryRun.status != 0)
        let gates = (try JSONSerialization.jsonObject(with: dryRun.standardOutput) as? [String: Any])?["gates"] as? [[String: Any]] ?? []
        #expect(gates.compactMap { $0["gate"] as? String }.sorted() == ["Min-Soak", "Promotes-To"], "\(gates)")
        #expect(gates.allSatisfy { $0["open"] as? Bool == false })

        // Overridden: done, and history says so.
        let pushed = try repository.depot(["push", "production", gull, "--override-gates"])
        #expect(pushed.status == 0, "\(pushed.standardError)")
        let entry = try repository.history("production").first
        #expect(entry?.operation == "push")
        #expect(entry?.overriddenGates == ["Min-Soak"], "\(String(describing: entry))")

        // Time halted at 0 % in staging does not soak; time rolled out does.
        try #require(try repository.depot(["promote", "tern", "--from", "development", "--phase", "0"]).status == 0)
        usleep(2_300_000)
        try expectRefusals(
            repository, [(["promote", "tern", "--from", "staging"], "it is halted at 0 % (or not listed) there, which does not count")])
        // A longer soak from here, so that a loaded machine's slow commands cannot outlast it
        // before the early promotion.
        try repository.editConfiguration(replacing: "Min-Soak: 2s\n", with: "Min-Soak: 6s\n")
        let rolledOut = Date()
        try #require(try repository.depot(["phase", "staging", "tern", "100"]).status == 0)
        let early = try repository.depot(["promote", "tern", "--from", "staging"])
        #expect(early.status != 0 && early.standardError.contains("it can be promoted after"), "\(early.standardError)")
        usleep(useconds_t(max(0, 7.5 - Date().timeIntervalSince(rolledOut)) * 1_000_000))
        let promoted = try repository.depot(["promote", "tern", "--from", "staging"])
        #expect(promoted.status == 0, "\(promoted.standardError)")

        // Through the API, a direct push needs overrideGates and the scope override:production.
        let ci = try repository.createToken("ci", allowing: ["push:production"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let kite = try packages.make("kite", "1.0-1")
        func push(_ query: String) throws -> HTTPAnswer {
            try HTTPAnswer(
                server.curl(
                    "api/v1/distributions/production/packages\(query)",
                    ["-H", "Authorization: Bearer \(ci)", "-H", "Content-Type: application/vnd.debian.binary-package",
                     "--data-binary", "@\(kite)"]))
        }
        #expect(try push("").status == 409)
        #expect(try push("?overrideGates=true").status == 403)
        #expect(try listed(repository, "production") == ["gull 1.0-1 amd64", "tern 1.0-1 amd64"])
    }

    @Test func outOfRangeNumbersAndHostileRequestsAreRefusedAndNothingCrashes() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "1.0-1")]).status == 0)
        try #require(try repository.depot(["promote", "tern", "--from", "staging"]).status == 0)

        // depot.conf: each refused in one line naming the field, by every command.
        let huge = "99999999999999999w"
        for (field, stanza) in [
            ("Min-Soak", "Distribution: production\n"), ("Valid-For", "Distribution: production\n"),
            ("Session-Lifetime", "Origin: Depot\n"), ("GC-Grace", "Origin: Depot\n"),
            ("Keep-Versions", "Distribution: production\n"), ("Approvals", "Distribution: production\n"),
        ] {
            let original = try String(contentsOf: repository.root.appendingPathComponent("depot.conf"), encoding: .utf8)
            let value = field == "Keep-Versions" || field == "Approvals" ? "99999999999999999999" : huge
            let extra = field == "GC-Grace" ? "Storage: s3://bucket/prefix\nS3-Endpoint: http://127.0.0.1:9\n" : ""
            try repository.editConfiguration(replacing: stanza, with: stanza + extra + "\(field): \(value)\n")
            let result = try repository.depot(["list"])
            #expect(result.status == 1, "\(field): \(result.status)")
            #expect(
                result.standardError.hasPrefix("depot: error: ") && result.standardError.contains("\(field) must be"),
                "\(field): \(result.standardError)")
            try original.write(to: repository.root.appendingPathComponent("depot.conf"), atomically: true, encoding: .utf8)
        }
        // The command line.
        for arguments in [
            ["list", "--wait", "1e300"], ["serve", "--request-timeout", "1e300"], ["serve", "--advance-phases-every", "inf"],
            ["serve", "--max-upload-size", "99999999999999G"], ["phase", "production", "tern", "--ramp", "10,100", "--every", huge],
        ] {
            let result = try repository.depot(arguments)
            #expect(result.status != 0 && result.status < 128, "\(arguments): \(result.status)")
            #expect(result.standardError.hasPrefix("depot: error: "), "\(arguments): \(result.standardError)")
        }

        // The API: each a 400 naming the problem, the server alive, nothing changed.
        let token = try repository.createToken("ops", allowing: ["promote:*", "approve:*", "rollback:*", "read:*"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let before = try repository.snapshot()
        func post(_ path: String, _ body: String) throws -> HTTPAnswer {
            try HTTPAnswer(
                server.curl(
                    "api/v1/\(path)",
                    ["-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json", "--data-binary", body]))
        }
        let longNote = String(repeating: "n", count: 64 * 1024 + 1)
        for (path, body, message) in [
            ("distributions/development/phases", #"{"package":"tern","ramp":[10,100],"every":"\#(huge)"}"#, "is a duration such as 30m, 6h or 1d, at most 3650d"),
            ("distributions/production/phases", #"{"package":"tern","percentage":5,"note":"a\u0000b"}"#, "NUL"),
            ("distributions/production/approvals", #"{"package":"tern","version":"1.0-1","note":"a\u0000b"}"#, "NUL"),
            ("distributions/production/rollback", #"{"packages":["tern"],"note":"a\u0000b"}"#, "NUL"),
            ("distributions/production/rollback", #"{"packages":["tern"],"note":"\#(longNote)"}"#, "at most 65536 bytes"),
            ("promotions", #"{"packages":["tern"],"from":"staging","dryRun":null}"#, "is null: give it a value"),
        ] {
            let answer = try post(path, body)
            let detail = String(decoding: answer.body, as: UTF8.self)
            #expect(answer.status == 400, "\(path): \(answer.status) \(detail.prefix(300))")
            #expect(detail.contains(message), "\(path): \(detail.prefix(300))")
        }
        #expect(try HTTPAnswer(server.curl("healthz")).status == 200, "the server died")
        #expect(try repository.snapshot() == before, "a refused request changed the repository")
        // A store copy never writes through a symbolic link, even one that points nowhere yet.
        let link = repository.root.appendingPathComponent("copy.sqlite").path
        let target = repository.root.appendingPathComponent("elsewhere.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let copied = try repository.depot(["store", "copy", "--to", link])
        #expect(copied.status != 0 && copied.standardError.contains("exists"), "\(copied.standardError)")
        #expect(!FileManager.default.fileExists(atPath: target), "store copy wrote through a dangling link")
        let note = try repository.depot(["remove", "production", "tern", "--note", longNote])
        #expect(note.status != 0 && note.standardError.contains("a note is at most 65536 bytes"), "\(note.standardError)")
    }

    @Test func signInsAreLimitedSessionsCappedAndARevokedTokenStopsItsRamps() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "production", try packages.make("tern", "1.0-1")]).status == 0)
        let ops = try repository.createToken("ops", allowing: ["promote:production", "read:*"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        func signIn(_ token: String) throws -> HTTPAnswer {
            try HTTPAnswer(server.curl("login", ["--data-binary", "token=\(token)"]))
        }
        func cookie(_ answer: HTTPAnswer) -> String? {
            answer.headers["set-cookie"].map { String($0.dropFirst("depot_session=".count).prefix { $0 != ";" }) }
        }
        func signedIn(_ cookie: String) throws -> Bool {
            try HTTPAnswer(server.curl("", ["-b", "depot_session=\(cookie)"])).status == 200
        }

        // A token signed in over and over keeps its latest sessions only.
        let first = try #require(cookie(try signIn(ops)))
        #expect(try signedIn(first))
        var latest = first
        for _ in 0..<20 { latest = try #require(cookie(try signIn(ops))) }
        #expect(try !signedIn(first), "the oldest of 21 sessions still works")
        #expect(try signedIn(latest))

        // Five failed sign-ins a minute from one address; then even a good token waits.
        for attempt in 1...5 { #expect(try signIn("depot_wrong\(attempt)").status == 401) }
        let limited = try signIn(ops)
        #expect(limited.status == 429 && limited.headers["retry-after"] != nil, "\(limited.status)")

        // A ramp started through the API stops when its token is revoked, and history says so.
        let ramp = try HTTPAnswer(
            server.curl(
                "api/v1/distributions/production/phases",
                ["-H", "Authorization: Bearer \(ops)", "-H", "Content-Type: application/json",
                 "--data-binary", #"{"package":"tern","ramp":[10,50,100],"every":"1h"}"#]))
        #expect(ramp.status == 200, "\(String(decoding: ramp.body, as: UTF8.self))")
        let revoked = try repository.depot(["token", "revoke", "ops"])
        #expect(revoked.text.contains("stopped its ramp of tern 1.0-1 in production (steps not taken: 50%, 100%)"), "\(revoked.text)")
        #expect(try !signedIn(latest), "a revoked token's session still works")
        let show = try repository.depot(["show", "tern", "--json"])
        let report = try JSONSerialization.jsonObject(with: show.standardOutput) as? [String: Any] ?? [:]
        #expect((report["ramps"] as? [Any])?.isEmpty == true)
        let entries = try repository.history("production")
        #expect(entries.first?.operation == "ramp-stopped")
        #expect(entries.first?.note?.hasPrefix("token ops revoked") == true)
        // An entry that changed no listing leaves rollbacks to earlier entries possible.
        let back = try repository.depot(["rollback", "production", "--to", String(try #require(entries.last?.id))])
        #expect(back.status == 0, "\(back.standardError)")
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage") == false)
    }

    @Test func theDashboardShowsASignedInTokenOnlyWhatItMayRead() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "development", try packages.make("gull", "1.0-1"), "--note", "dev build"]).status == 0)
        try #require(try repository.depot(["push", "production", try packages.make("tern", "1.0-1"), "--note", "secret hotfix"]).status == 0)
        let ci = try repository.createToken("ci", allowing: ["push:development"])
        let reader = try repository.createToken("reader", allowing: ["read:development"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        for (token, seesDevelopment) in [(ci, false), (reader, true)] {
            let signIn = try HTTPAnswer(server.curl("login", ["--data-binary", "token=\(token)"]))
            let cookie = String(try #require(signIn.headers["set-cookie"]).dropFirst("depot_session=".count).prefix { $0 != ";" })
            let home = String(decoding: try HTTPAnswer(server.curl("", ["-b", "depot_session=\(cookie)"])).body, as: UTF8.self)
            #expect(!home.contains("tern") && !home.contains("secret hotfix") && !home.contains("production"), "\(home)")
            #expect(home.contains("dev build") == seesDevelopment && home.contains("gull") == seesDevelopment)
            let page = try HTTPAnswer(server.curl("packages/tern", ["-b", "depot_session=\(cookie)"]))
            #expect(page.status == 404 && !String(decoding: page.body, as: UTF8.self).contains("secret hotfix"))
        }
    }

    @Test func aDistributionThatDoesNotChangeIsReSignedBeforeItExpires() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(replacing: "Distribution: production\n", with: "Distribution: production\nValid-For: 4s\n")
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "production", try packages.make("tern", "1.0-1")]).status == 0)
        let release = repository.publicDirectory + "/dists/production/Release"
        func fields() throws -> (date: String, validUntil: String, indices: String) {
            let text = try String(contentsOfFile: release, encoding: .utf8)
            func field(_ name: String) -> String {
                text.split(separator: "\n").first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) } ?? ""
            }
            return (field("Date"), field("Valid-Until"), String(text[try #require(text.range(of: "SHA256:")).lowerBound...]))
        }
        let signed = try fields()

        // depot publish re-signs on demand: the same indices, a later Date.
        usleep(1_100_000)
        try #require(try repository.depot(["publish", "production"]).status == 0)
        let republished = try fields()
        #expect(republished.date != signed.date && republished.indices == signed.indices)

        // depot serve re-signs once half of Valid-For is gone, with nothing changed: apt keeps
        // accepting it long after the first Valid-Until.
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let apt = try AptClient(
            sources: ["deb [signed-by=\(repository.archiveKey)] \(server.url) production main"])
        defer { apt.remove() }
        for round in 0..<4 {
            usleep(2_000_000)
            let update = try apt.run(["update"])
            #expect(update.status == 0 && !update.standardError.contains("E:"), "round \(round): \(update.standardError)")
        }
        let later = try fields()
        #expect(later.validUntil != signed.validUntil && later.indices == signed.indices)
        #expect(server.logText.contains("depot: re-signed production"), "\(server.logText)")
    }
}
