import DepotTestSupport
import Foundation
import Testing

/// Rollback undoes changes exactly, is itself undoable, and gc never takes what a rollback
/// within the retention window needs.
@Suite struct RollbackCommandTests {
    func entryIDs(_ repository: ScratchRepository, _ distribution: String) throws -> [Int64] {
        try repository.history(distribution).map(\.id)
    }

    @Test func rollingBackAPackagePutsBackItsPreviousVersionAndCanBeRolledBackItself() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(
            try repository.depot([
                "push", "production", try packages.make("tern", "1.0-1"), try packages.make("gull", "1.0-1"),
            ]).status == 0)
        try #require(try repository.depot(["push", "production", try packages.make("tern", "2.0-1")]).status == 0)
        try #require(try repository.depot(["push", "production", try packages.make("gull", "2.0-1")]).status == 0)

        let rollback = try repository.depot(["rollback", "production", "tern", "--note", "2.0 crashes"])
        #expect(rollback.status == 0, "\(rollback.standardError)")
        #expect(rollback.text == "tern (amd64) in production: 2.0-1 -> 1.0-1\n")
        #expect(try listed(repository, "production") == ["tern 1.0-1 amd64", "gull 2.0-1 amd64"])

        // The published index follows, and the real apt-get sees the old version again.
        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try repository.aptClient("production", through: server)
        defer { apt.remove() }
        #expect(try apt.run(["update"]).status == 0)
        #expect(try apt.candidate("tern") == "1.0-1")

        let entry = try #require(try repository.history("production", limit: 1).first)
        #expect(entry.operation == "rollback")
        #expect(entry.note == "2.0 crashes")

        // A rollback is a change like any other: rolling it back restores 2.0.
        #expect(
            try repository.depot(["rollback", "production", "tern"]).text
                == "tern (amd64) in production: 1.0-1 -> 2.0-1\n")
        #expect(try listed(repository, "production") == ["tern 2.0-1 amd64", "gull 2.0-1 amd64"])
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func rollingBackToAnEntryRestoresExactlyWhatWasListedThen() throws {
        // Keep-Versions 2, so that "what was listed" is more than each package's newest version.
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Distribution: staging\n", with: "Distribution: staging\nKeep-Versions: 2\n")
        let packages = PackageBuilder()
        try #require(
            try repository.depot([
                "push", "staging", try packages.make("tern", "1.0-1"), try packages.make("gull", "1.0-1"),
            ]).status == 0)
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "2.0-1")]).status == 0)
        let checkpoint = try #require(try entryIDs(repository, "staging").first)
        let expected = try listed(repository, "staging")
        #expect(expected == ["tern 1.0-1 amd64", "tern 2.0-1 amd64", "gull 1.0-1 amd64"])

        try #require(try repository.depot(["push", "staging", try packages.make("tern", "3.0-1")]).status == 0)
        try #require(try repository.depot(["remove", "staging", "gull"]).status == 0)
        try #require(
            try repository.depot(["push", "staging", try packages.make("plover", "1.0-1", architecture: "arm64")])
                .status == 0)
        try #require(
            try repository.depot(["push", "staging", try packages.make("tern", "0.9-1"), "--allow-downgrade"]).status
                == 0)
        try #require(try repository.depot(["rollback", "staging", "tern"]).status == 0)
        #expect(try listed(repository, "staging") != expected)
        let latest = try #require(try entryIDs(repository, "staging").first)

        let rollback = try repository.depot(["rollback", "staging", "--to", String(checkpoint), "--json"])
        #expect(rollback.status == 0, "\(rollback.standardError)")
        #expect(try listed(repository, "staging") == expected)
        let outcome = try JSONSerialization.jsonObject(with: rollback.standardOutput) as? [String: Any] ?? [:]
        #expect((outcome["undone"] as? [Int])?.count == 5)

        // Rolling the rollback back returns to the state before it, exactly.
        let beforeRollback = try repository.depot(["rollback", "staging", "--to", String(latest)])
        #expect(beforeRollback.status == 0, "\(beforeRollback.standardError)")
        #expect(try listed(repository, "staging") == ["tern 3.0-1 amd64", "tern 2.0-1 amd64", "plover 1.0-1 arm64"])
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func removingOrRollingBackWhatOthersNeedWarnsAndVerifyNotesIt() throws {
        let repository = try ScratchRepository(["--architectures", "amd64"])
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "production", try packages.make("libtern", "1.0-1")]).status == 0)
        try #require(
            try repository.depot([
                "push", "production", try packages.make("libtern", "2.0-1", extra: ["Provides: tern-runtime"]),
                try packages.make("tern", "2.0-1", extra: ["Depends: libtern (>= 2.0), libc6"]),
                try packages.make("ternd", "2.0-1", extra: ["Depends: tern-runtime"]),
            ]).status == 0)
        let unmetTern = "tern 2.0-1 (amd64) depends on 'libtern (>= 2.0)', which production does not satisfy"
        let unmetTernd = "ternd 2.0-1 (amd64) depends on 'tern-runtime', which production does not satisfy"

        // The rollback is done as asked, and says what it left uninstallable.
        let rolledBack = try repository.depot(["rollback", "production", "libtern", "--json"])
        #expect(rolledBack.status == 0)
        let answer = try JSONSerialization.jsonObject(with: rolledBack.standardOutput) as? [String: Any]
        let unmet = answer?["unmetDependencies"] as? [[String: Any]] ?? []
        #expect(unmet.map { $0["package"] as? String } == ["tern", "ternd"])
        #expect(unmet.map { $0["requirement"] as? String } == ["libtern (>= 2.0)", "tern-runtime"])
        #expect(
            rolledBack.standardError == "depot: warning: \(unmetTern)\ndepot: warning: \(unmetTernd)\n",
            "\(rolledBack.standardError)")
        let verified = try repository.depot(["verify"])
        #expect(verified.status == 0)
        #expect(verified.text.contains("note: \(unmetTern)\n") && verified.text.contains("note: \(unmetTernd)\n"))

        // Undoing it leaves nothing unmet; libc6 is not this repository's to check.
        let undone = try repository.depot(["rollback", "production", "libtern"])
        #expect(undone.status == 0 && undone.standardError.isEmpty, "\(undone.standardError)")
        #expect(!(try repository.depot(["verify"]).text.contains("note:")))

        let removed = try repository.depot(["remove", "production", "libtern"])
        #expect(removed.status == 0)
        #expect(
            removed.standardError == "depot: warning: \(unmetTern)\ndepot: warning: \(unmetTernd)\n",
            "\(removed.standardError)")
    }

    @Test func aRollbackThatCannotBeDoneChangesNothing() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "1.0-1")]).status == 0)
        try expectRefusals(
            repository,
            [
                (["rollback", "staging", "gull"], "no recorded change of gull in staging to roll back"),
                (["rollback", "production", "tern"], "no recorded change of tern in production to roll back"),
                (["rollback", "staging", "--to", "99"], "no history entry 99"),
                (["rollback", "staging", "tern", "--to", "1"], "a rollback to a history entry takes back every package: name none"),
                (["rollback", "staging"], "name the packages to roll back, or the history entry to go back to (--to ID)"),
                (["rollback", "nowhere", "tern"], "unknown distribution 'nowhere'"),
            ])
    }

    @Test func gcKeepsWhatRetainedHistoryNeedsAndDeletesTheRest() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Distribution: production\n", with: "Distribution: production\nRetain-History: 1\n")
        let packages = PackageBuilder()
        let versions = try ["1.0-1", "2.0-1", "3.0-1", "4.0-1"].map { try packages.make("tern", $0) }
        for version in versions {
            try #require(try repository.depot(["push", "production", version]).status == 0)
        }
        // Staging's history still names 1.0-1, within its (default, generous) window.
        try #require(try repository.depot(["push", "staging", versions[0]]).status == 0)
        try #require(try repository.depot(["remove", "staging", "tern"]).status == 0)
        let pool = repository.root.appendingPathComponent("public/pool/main/t/tern")
        func poolFiles() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: pool.path)) }
        #expect(try poolFiles().count == 4)

        // What a killed push leaves: a pool file the store never recorded, and an incoming file.
        let orphan = pool.appendingPathComponent("tern_9.0-1_amd64.deb")
        try Data("left by a killed push".utf8).write(to: orphan)
        let leftover = repository.root.appendingPathComponent(".depot/incoming/999999999-leftover.deb")
        try Data(count: 1000).write(to: leftover)

        let before = try repository.snapshot()
        let dryRun = try repository.depot(["gc", "--dry-run", "--json"])
        #expect(dryRun.status == 0, "\(dryRun.standardError)")
        #expect(try repository.snapshot() == before, "a dry run changed the repository")
        let plan = try JSONSerialization.jsonObject(with: dryRun.standardOutput) as? [String: Any] ?? [:]
        // production's last entry unlisted 3.0-1 and listed 4.0-1; staging's entries name
        // 1.0-1: only 2.0-1 is beyond every window.
        #expect(plan["unreferenced"] as? [String] == ["pool/main/t/tern/tern_2.0-1_amd64.deb"])
        #expect(plan["orphaned"] as? [String] == ["pool/main/t/tern/tern_9.0-1_amd64.deb"])
        #expect(plan["incoming"] as? [String] == ["999999999-leftover.deb"])
        let size = try #require(
            try FileManager.default.attributesOfItem(atPath: pool.appendingPathComponent("tern_2.0-1_amd64.deb").path)[
                .size] as? Int)
        // Index chunks compressed for earlier publishes are no longer used either.
        let chunkBytes = try #require(plan["cachedChunkBytes"] as? Int)
        #expect((plan["cachedChunks"] as? Int ?? 0) > 0 && chunkBytes > 0)
        #expect(plan["bytes"] as? Int == size + 21 + 1000 + chunkBytes)

        let collected = try repository.depot(["gc"])
        #expect(collected.status == 0, "\(collected.standardError)")
        #expect(collected.text.contains("freed \(size + 1021 + chunkBytes) bytes"), "\(collected.text)")
        #expect(try poolFiles() == ["tern_1.0-1_amd64.deb", "tern_3.0-1_amd64.deb", "tern_4.0-1_amd64.deb"])
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
        #expect(try repository.depot(["verify"]).status == 0)
        #expect(try repository.depot(["show", "tern"]).text.contains("2.0-1") == false)

        // A rollback needing the collected file says so and changes nothing.
        let after = try repository.snapshot()
        let refused = try repository.depot(["rollback", "production", "--to", "2"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("cannot restore tern 2.0-1 (amd64) in production: gc deleted it"))
        #expect(try repository.snapshot() == after)
        // One within the window still works.
        #expect(try repository.depot(["rollback", "production", "tern"]).text.contains("4.0-1 -> 3.0-1"))
        // ... and keeps every file it may need again: 4.0-1, now unlisted, is in its window.
        let again = try repository.depot(["gc", "--json"])
        let second = try JSONSerialization.jsonObject(with: again.standardOutput) as? [String: Any] ?? [:]
        #expect(second["unreferenced"] as? [String] == [])
        #expect(try poolFiles() == ["tern_1.0-1_amd64.deb", "tern_3.0-1_amd64.deb", "tern_4.0-1_amd64.deb"])
    }
}
