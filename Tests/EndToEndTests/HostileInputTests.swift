import DepotTestSupport
import Foundation
import Testing

/// What a hostile or broken CI build can send: refused at the door, through the CLI and the
/// API alike, with the repository left as it was; and what verify says of such a package
/// stored before Depot refused it.
@Suite(.enabled(if: TestSupport.hasProgram("curl"), "needs curl"))
struct HostileInputTests {
    static let head = "Package: victii\nVersion: 1.0\nArchitecture: amd64\nMaintainer: M <m@example.org>\n"

    /// A NUL cut the stored stanza short and apt read `victii`'s fields into `victim`'s stanza;
    /// broken relationship fields made apt drop the distribution's index.
    @Test func controlFilesAptCannotParseAreRefusedByTheCLIAndTheAPI() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "development", try packages.make("victim", "1.0")]).status == 0)
        let folder = try TestSupport.makeTemporaryDirectory("hostile")
        defer { try? FileManager.default.removeItem(at: folder) }

        let controls: [(String, String)] = [
            ("Pre-Depends: evilpkg\nConflicts: hello\nEssential: yes\nDescription: x\u{0}\n", "NUL"),
            ("Depends: epo (>= 9\nDescription: x\n", "invalid Depends field"),
            ("Depends: epo (>= 9), ,, | zz, $$$\nDescription: x\n", "invalid Depends field"),
            ("Breaks: aa | bb\nDescription: x\n", "invalid Breaks field"),
            ("Description: x\n \u{1B}]0;pwned\u{07}\n", "ESC"),
        ]
        var cases: [([String], String)] = []
        var files: [String] = []
        for (index, (tail, message)) in controls.enumerated() {
            let path = try DebAssembler.write(
                control: Array((Self.head + tail).utf8), in: folder, name: "victii-\(index).deb")
            files.append(path)
            cases.append((["push", "development", path], message))
        }
        try expectRefusals(repository, cases)

        let token = try repository.createToken("ci", allowing: ["push:development"])
        let before = try repository.snapshot()
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        for path in files {
            let answer = try HTTPAnswer(
                server.curl(
                    "api/v1/distributions/development/packages",
                    ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + path]))
            #expect(answer.status == 422, "\(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.error == "invalid-package")
        }
        server.stop()
        #expect(try repository.snapshot() == before)
        #expect(try listed(repository, "development") == ["victim 1.0 amd64"])
    }

    /// A misspelt key once turned a dry run into a real promotion: every call refuses what it
    /// does not take, and says what is wrong with what it does.
    @Test func theAPIRefusesKeysAndParametersItDoesNotTake() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "development", try packages.make("hello", "1.0")]).status == 0)
        try #require(try repository.depot(["promote", "hello", "--from", "development"]).status == 0)
        let token = try repository.createToken("ops", allowing: ["promote:*", "rollback:*", "push:*"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let before = try repository.snapshot()
        let push = "api/v1/distributions/development/packages"
        let upload = try packages.make("hello", "2.0")
        let cases: [(String, [String], String)] = [
            (
                "api/v1/promotions",
                ["--data-binary", #"{"packages": ["hello"], "from": "staging", "to": "production", "dryrun": true}"#],
                #"unknown key "dryrun"; this call takes "packages", "all", "from", "to", "dryRun""#
            ),
            (
                "api/v1/promotions",
                ["--data-binary", #"{"packages": ["hello"], "from": "staging", "from": "development"}"#],
                #""from" is given twice"#
            ),
            // The API, the command line and the dashboard check a promotion in one place.
            (
                "api/v1/promotions", ["--data-binary", #"{"packages": [], "from": "staging"}"#],
                "name the packages to promote, or promote all"
            ),
            (
                "api/v1/promotions",
                ["--data-binary", #"{"packages": ["hello"], "from": "staging", "withDeps": true, "ignoreDependencies": true}"#],
                "contradict each other"
            ),
            (
                "api/v1/promotions", ["--data-binary", #"{"packages": "hello", "from": "staging"}"#],
                #""packages" must be"#
            ),
            ("api/v1/promotions", ["--data-binary", #"{"packages": ["hello"]}"#], #""from" is missing"#),
            ("api/v1/promotions", ["--data-binary", #"["hello"]"#], "not a JSON object"),
            (
                "api/v1/distributions/production/rollback", ["--data-binary", "{}"],
                "name the packages to roll back, or the history entry to go back to"
            ),
            ("api/v1/distributions/production/rollback", ["--data-binary", #"{"to": 1e300}"#], #""to""#),
            (
                "api/v1/distributions/production/rollback", ["--data-binary", #"{"packages": ["hello"], "to": 1}"#],
                "takes back every package: name none"
            ),
            (
                "api/v1/distributions/production/rollback", ["--data-binary", #"{"packages": []}"#],
                "name the packages to roll back"
            ),
            (
                push + "?allowdowngrade=true", ["--data-binary", "@" + upload],
                "unknown query parameter 'allowdowngrade'"
            ),
            (push + "?allowDowngrade=yes", ["--data-binary", "@" + upload], "allowDowngrade must be true or false"),
            (push + "?note=a&note=b", ["--data-binary", "@" + upload], "'note' is given twice"),
            (push + "?note=before%00after", ["--data-binary", "@" + upload], "NUL"),
        ]
        for (path, arguments, message) in cases {
            let answer = try HTTPAnswer(server.curl(path, ["-H", "Authorization: Bearer \(token)"] + arguments))
            let detail = (answer.json as? [String: Any])?["detail"] as? String ?? ""
            #expect(answer.status == 400, "\(path) \(arguments): \(answer.status) \(detail)")
            #expect(detail.contains(message), "\(path) \(arguments): \(detail)")
        }
        #expect(try repository.snapshot() == before, "a refused call changed the repository")
        #expect(try listed(repository, "production").isEmpty)
    }

    /// `1:1.0-1` and `2:1.0-1` share a pool file name; the second is a conflict that names
    /// both, and no answer carries SQL or the server's paths.
    @Test func versionsThatDifferOnlyInTheirEpochAreAClearConflict() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        let first = try packages.make("epo", "1:1.0-1")
        let second = try packages.make("epo", "2:1.0-1")
        try #require(try repository.depot(["push", "development", first]).status == 0)
        try expectRefusals(
            repository,
            [
                (
                    ["push", "development", second],
                    "epo 2:1.0-1 (amd64) would be stored at pool/main/e/epo/epo_1.0-1_amd64.deb, which already holds epo 1:1.0-1 (listed in development)"
                )
            ])
        let cli = try repository.depot(["push", "staging", second])
        #expect(!cli.standardError.contains("SQL"), "\(cli.standardError)")

        let token = try repository.createToken("ci", allowing: ["push:*"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let answer = try HTTPAnswer(
            server.curl(
                "api/v1/distributions/staging/packages",
                ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + second]))
        let body = String(decoding: answer.body, as: UTF8.self)
        #expect(answer.status == 409 && answer.error == "conflict", "\(body)")
        #expect(body.contains("epo 1:1.0-1"), "\(body)")
        #expect(!body.contains("SQL") && !body.contains(repository.root.path), "\(body)")
    }

    /// A store written before push refused such packages: verify names the damage.
    @Test func verifyReportsAStoredStanzaThatDoesNotReadBack() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "development", try packages.make("victim", "1.0")]).status == 0)
        #expect(try repository.depot(["verify"]).status == 0)
        // The stanza as a NUL left it: cut before Filename and the checksums.
        let store = repository.root.appendingPathComponent(".depot/depot.sqlite").path
        let cut = try TestSupport.run(
            "python3",
            [
                "-c",
                """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1])
                db.execute("UPDATE package_files SET stanza = substr(stanza, 1, instr(stanza, 'Filename:') - 1)")
                db.commit()
                """,
                store,
            ])
        try #require(cut.status == 0, "\(cut.standardError)")
        let verify = try repository.depot(["verify"])
        #expect(verify.status != 0)
        #expect(
            verify.standardError.contains("does not read back as one stanza naming this file"),
            "\(verify.standardError)")
    }

    /// A note is the pusher's text: in `history` it may not recolour the operator's terminal,
    /// set its title, or start a line that looks like another entry.
    @Test func textOutputShowsControlCharactersAsEscapes() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        let note = "ok\u{1B}]0;owned\u{07}\u{1B}[2J\r\n#99 2026-01-01T00:00:00Z push production by admin\u{202E}"
        let pushed = try repository.depot(["push", "development", try packages.make("hello", "1.0"), "--note", note])
        try #require(pushed.status == 0, "\(pushed.standardError)")
        let history = try repository.depot(["history"])
        #expect(history.status == 0)
        let bytes = [UInt8](history.standardOutput)
        #expect(!bytes.contains { $0 < 0x20 && $0 != 0x0A && $0 != 0x09 }, "\(history.text.debugDescription)")
        #expect(!history.text.contains("\u{202E}"))
        #expect(history.text.split(separator: "\n").filter { $0.hasPrefix("#") }.count == 1, "\(history.text)")
        #expect(history.text.contains(#"note: ok\u{1b}]0;owned\u{7}\u{1b}[2J\r\n#99"#), "\(history.text)")
        // JSON keeps the note exactly.
        #expect(try repository.history().first?.note == note)
    }

    @Test func messagesSayWhatIsWrong() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let folder = try TestSupport.makeTemporaryDirectory("crlf")
        defer { try? FileManager.default.removeItem(at: folder) }
        let crlf = try DebAssembler.write(
            control: Array(Self.head.replacingOccurrences(of: "\n", with: "\r\n").utf8)
                + Array("Description: x\r\n".utf8),
            in: folder, name: "crlf.deb")
        try expectRefusals(repository, [(["push", "development", crlf], "line 1: the line ends in CR LF")])
        let size = try repository.depot(["serve", "--max-upload-size", "-5"])
        #expect(size.standardError.contains("--max-upload-size takes a positive size"), "\(size.standardError)")

        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let port = server.url.split(separator: ":").last!.dropLast()
        let taken = try repository.depot(["serve", "--listen", "127.0.0.1:\(port)"])
        #expect(taken.status != 0)
        #expect(
            taken.standardError.contains("cannot listen on 127.0.0.1:\(port): Address already in use"),
            "\(taken.standardError)")
        #expect(!taken.standardError.contains("--help"), "\(taken.standardError)")
    }

    /// A writer stopped while it holds the repository used to keep every other writer waiting
    /// forever in silence.
    @Test func writersSayWhomTheyWaitForAndGiveUp() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        let hello = try packages.make("hello", "1.0")
        let token = try repository.createToken("ci", allowing: ["push:*"])
        let server = try DepotServe(root: repository.root, arguments: ["--wait", "1"])
        defer { server.stop() }
        // A stand-in for a stopped push: it holds the lock and a write transaction of the store.
        let ready = repository.root.appendingPathComponent("holder-ready").path
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = [
            "-c",
            """
            import fcntl, os, sqlite3, sys, time
            lock = open(sys.argv[1] + "/.depot/lock", "r+")
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.truncate(0); lock.write("pid %d (depot push stuck)" % os.getpid()); lock.flush()
            db = sqlite3.connect(sys.argv[1] + "/.depot/depot.sqlite", isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            open(sys.argv[2], "w").close()
            time.sleep(float(sys.argv[3]))
            """,
            repository.root.path, ready, "8",
        ]
        try holder.run()
        defer { holder.terminate() }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: ready) { usleep(20_000) }
        try #require(FileManager.default.fileExists(atPath: ready))
        let holderPID = holder.processIdentifier

        let started = Date()
        let push = try repository.depot(["--wait", "1", "push", "development", hello])
        #expect(push.status != 0)
        #expect(Date().timeIntervalSince(started) < 6)
        let lines = push.standardError.split(separator: "\n")
        #expect(lines.count == 2, "\(push.standardError)")
        #expect(lines.first == "depot: waiting for the repository, which pid \(holderPID) (depot push stuck) holds")
        #expect(
            lines.last?.hasPrefix(
                "depot: error: gave up waiting for 1 s for the repository, which pid \(holderPID) (depot push stuck) holds"
            )
                == true, "\(push.standardError)")

        let tokenCreate = try repository.depot(["--wait", "1", "token", "create", "ops", "--allow", "read:*"])
        #expect(tokenCreate.status != 0)
        #expect(
            tokenCreate.standardError.contains("which pid \(holderPID) (depot push stuck) holds"),
            "\(tokenCreate.standardError)")

        let answer = try HTTPAnswer(
            server.curl(
                "api/v1/distributions/development/packages",
                ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + hello]))
        #expect(answer.status == 503 && answer.error == "busy", "\(String(decoding: answer.body, as: UTF8.self))")
        #expect(answer.headers["retry-after"] == "5")
        #expect(!String(decoding: answer.body, as: UTF8.self).contains(repository.root.path))

        // Once the holder is gone, nothing that gave up is done after all.
        holder.terminate()
        holder.waitUntilExit()
        usleep(300_000)
        #expect(try listed(repository, "development").isEmpty)
        #expect(try repository.depot(["push", "development", hello]).status == 0)

        // A holder that does not say who it is is not taken for the last Depot process.
        let silent = Process()
        silent.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        silent.arguments = [repository.root.appendingPathComponent(".depot/lock").path, "sleep", "2"]
        try silent.run()
        defer { silent.waitUntilExit() }
        usleep(300_000)
        let waited = try repository.depot(["--wait", "0.5", "remove", "development", "hello"])
        #expect(waited.standardError.contains("which another process holds"), "\(waited.standardError)")
    }

    /// A `publishing:` error means the change was recorded; when publishing what an earlier
    /// change left fails first, the new change is not made, and the message says so.
    @Test func aFailedPublishSaysWhetherTheChangeWasRecorded() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(
            try repository.depot([
                "push", "development", try packages.make("hello", "1.0"), try packages.make("world", "1.0"),
            ]).status == 0)
        // dists/ made unwritable, even for root: a file where the folder was.
        let dists = repository.publicDirectory + "/dists"
        try FileManager.default.moveItem(atPath: dists, toPath: dists + ".away")
        try #require(FileManager.default.createFile(atPath: dists, contents: nil))
        let recorded = try repository.depot(["remove", "development", "hello"])
        #expect(
            recorded.standardError.hasPrefix("depot: error: publishing: ")
                && recorded.standardError.contains("the removal is recorded but not yet published"),
            "\(recorded.standardError)")
        let refused = try repository.depot(["remove", "development", "world"])
        #expect(
            refused.standardError.hasPrefix(
                "depot: error: not changed: an earlier change is recorded but not yet published"),
            "\(refused.standardError)")
        #expect(try repository.history().map(\.operation) == ["remove", "push"])

        try FileManager.default.removeItem(atPath: dists)
        try FileManager.default.moveItem(atPath: dists + ".away", toPath: dists)
        #expect(try repository.depot(["publish"]).status == 0)
        #expect(try listed(repository, "development") == ["world 1.0 amd64"])
        #expect(try repository.depot(["verify"]).status == 0)

        // A push with --json whose publish fails still says, on standard output, what it recorded.
        try FileManager.default.moveItem(atPath: dists, toPath: dists + ".away")
        try #require(FileManager.default.createFile(atPath: dists, contents: nil))
        let pushed = try repository.depot(["push", "development", try packages.make("kite", "1.0"), "--json"])
        #expect(pushed.status == 1)
        #expect(
            pushed.standardError.hasPrefix("depot: error: publishing: ")
                && pushed.standardError.contains("the push is recorded but not yet published"), "\(pushed.standardError)")
        let outcomes = try JSONSerialization.jsonObject(with: pushed.standardOutput) as? [[String: Any]] ?? []
        #expect(outcomes.map { "\($0["package"] ?? "") \($0["status"] ?? "")" } == ["kite added"], "\(pushed.text)")
        try FileManager.default.removeItem(atPath: dists)
        try FileManager.default.moveItem(atPath: dists + ".away", toPath: dists)
        #expect(try repository.depot(["publish"]).status == 0)
        #expect(try listed(repository, "development") == ["world 1.0 amd64", "kite 1.0 amd64"])

        // Through the API: the push's answer says it is recorded and what it recorded; the
        // next change is refused as not made, without the server's paths.
        try FileManager.default.moveItem(atPath: dists, toPath: dists + ".away")
        try #require(FileManager.default.createFile(atPath: dists, contents: nil))
        let token = try repository.createToken("ci", allowing: ["push:development"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        func apiPush(_ file: String) throws -> HTTPAnswer {
            try HTTPAnswer(
                server.curl(
                    "api/v1/distributions/development/packages",
                    ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + file]))
        }
        let apiRecorded = try apiPush(try packages.make("lark", "1.0"))
        let answer = apiRecorded.json as? [String: Any] ?? [:]
        #expect(apiRecorded.status == 500 && apiRecorded.error == "recorded-unpublished", "\(answer)")
        #expect(
            (answer["recorded"] as? [[String: Any]] ?? []).map { "\($0["package"] ?? "") \($0["status"] ?? "")" }
                == ["lark added"], "\(answer)")
        #expect(!String(decoding: apiRecorded.body, as: UTF8.self).contains(repository.root.path))
        let apiRefused = try apiPush(try packages.make("wren", "1.0"))
        #expect(apiRefused.status == 503 && apiRefused.error == "unpublished-changes")
        #expect(!String(decoding: apiRefused.body, as: UTF8.self).contains(repository.root.path))
        #expect(server.logText.contains("Not a directory"), "\(server.logText)")
        server.stop()

        try FileManager.default.removeItem(atPath: dists)
        try FileManager.default.moveItem(atPath: dists + ".away", toPath: dists)
        #expect(try repository.depot(["publish"]).status == 0)
        #expect(
            try listed(repository, "development") == ["world 1.0 amd64", "kite 1.0 amd64", "lark 1.0 amd64"])
    }

    /// A link planted in the pool once had a push write its file outside the served tree.
    @Test func pushRefusesToWriteThroughSymbolicLinksAndVerifyReportsThem() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let outside = try TestSupport.makeTemporaryDirectory("outside")
        defer { try? FileManager.default.removeItem(at: outside) }
        let packages = PackageBuilder()
        let newt = try packages.make("newt", "1.0")
        let pool = repository.publicDirectory + "/pool"
        try FileManager.default.createDirectory(atPath: pool + "/main", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: pool + "/main/n", withDestinationPath: outside.path)
        try expectRefusals(
            repository,
            [(["push", "development", newt], "\(pool)/main/n: cannot write into the pool: it is not a folder")])
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)

        // A link that appears after the push: verify names it.
        try FileManager.default.removeItem(atPath: pool + "/main/n")
        try #require(try repository.depot(["push", "development", newt]).status == 0)
        try FileManager.default.moveItem(atPath: pool + "/main/n/newt", toPath: outside.path + "/newt")
        try FileManager.default.createSymbolicLink(
            atPath: pool + "/main/n/newt", withDestinationPath: outside.path + "/newt")
        let verify = try repository.depot(["verify"])
        #expect(verify.status != 0)
        #expect(
            verify.standardError.contains("\(pool)/main/n/newt: a symbolic link in the pool"), "\(verify.standardError)"
        )
    }
}
