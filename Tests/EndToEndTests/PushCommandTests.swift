import DepotTestSupport
import Foundation
import Testing

/// `depot push` and friends run as a subprocess, as CI runs them.
@Suite struct PushCommandTests {
    static let snowbird = TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")

    /// Every kind of bad input: a non-zero exit, one line `depot: error: FILE: problem`, and
    /// the repository (store, pool, public/) exactly as it was.
    @Test func badInputLeavesTheRepositoryExactlyAsItWas() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "staging", Self.snowbird]).status == 0)
        let before = try repository.snapshot()

        let missing = repository.root.appendingPathComponent("missing.deb").path
        let unreadable = repository.root.deletingLastPathComponent().appendingPathComponent("unreadable-\(UUID()).deb")
            .path
        try Data("!<arch>\n".utf8).write(to: URL(fileURLWithPath: unreadable))
        chmod(unreadable, 0)
        defer { try? FileManager.default.removeItem(atPath: unreadable) }

        var cases: [(arguments: [String], mentions: String)] = TestSupport.fixtures(in: "bad").map {
            (["push", "staging", $0], $0)
        }
        cases += [
            (["push", "staging", TestSupport.fixture("good")], TestSupport.fixture("good")),
            (["push", "staging", missing], missing),
            (["push", "nowhere", Self.snowbird], "unknown distribution 'nowhere'"),
            (["push", "staging", Self.snowbird, "--component", "contrib"], "unknown component 'contrib'"),
            // One good file and one bad: all or none.
            (
                [
                    "push", "staging", TestSupport.fixture("good/epochal_3.1-1_amd64.deb"),
                    TestSupport.fixture("bad/truncated.deb"),
                ],
                TestSupport.fixture("bad/truncated.deb")
            ),
        ]
        if getuid() != 0 { cases.append((["push", "staging", unreadable], unreadable)) }
        for (arguments, mentions) in cases {
            let result = try repository.depot(arguments)
            #expect(result.status != 0, "\(arguments) succeeded")
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(result.standardError)")
            #expect(result.standardError.hasPrefix("depot: error: "), "\(result.standardError)")
            #expect(result.standardError.contains(mentions), "\(result.standardError) should name \(mentions)")
            #expect(try repository.snapshot() == before, "\(arguments) changed the repository")
        }
    }

    @Test func aPoolFolderThatCannotBeMadeFailsThePushAndUndoesTheOtherMoves() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(
            try repository.depot(["push", "staging", TestSupport.fixture("good/libsnow1_1.0~rc1-1_amd64.deb")]).status
                == 0)
        // A file where the folder for epochal's source would go.
        let blocker = repository.publicDirectory + "/pool/main/e"
        try Data("in the way\n".utf8).write(to: URL(fileURLWithPath: blocker))
        let before = try repository.snapshot()

        // snowbird's move into the pool succeeds, epochal's fails: neither may remain.
        let result = try repository.depot([
            "push", "development", Self.snowbird, TestSupport.fixture("good/epochal_3.1-1_amd64.deb"),
        ])
        #expect(result.status != 0)
        #expect(result.standardError.hasPrefix("depot: error: \(blocker)"), "\(result.standardError)")
        #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
        #expect(try repository.snapshot() == before)
    }

    /// A push killed before its commit can leave a file at a pool path the store never
    /// recorded; the next push of that package replaces it with the bytes it records.
    @Test func aFileAKilledPushLeftAtThePoolPathIsReplaced() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let leftover = repository.publicDirectory + "/pool/main/s/snowbird-src/snowbird_1.4.2-1_amd64.deb"
        try FileManager.default.createDirectory(
            atPath: (leftover as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("half a package\n".utf8).write(to: URL(fileURLWithPath: leftover))

        let result = try repository.depot(["push", "staging", Self.snowbird])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(FileManager.default.contents(atPath: leftover) == FileManager.default.contents(atPath: Self.snowbird))
        #expect(try repository.depot(["verify"]).status == 0)
        let incoming = try FileManager.default.contentsOfDirectory(atPath: repository.root.path + "/.depot/incoming")
        #expect(incoming.isEmpty, "\(incoming)")
    }

    /// `/dev/shm` is a file system of its own on Linux; the test needs one.
    static let otherFileSystem: String? = {
        var shm = stat()
        var temporary = stat()
        guard stat("/dev/shm", &shm) == 0, stat(NSTemporaryDirectory(), &temporary) == 0,
            shm.st_dev != temporary.st_dev
        else { return nil }
        return "/dev/shm"
    }()

    @Test(.enabled(if: otherFileSystem != nil))
    func aPublicFolderOnAnotherFileSystemIsRefusedSayingWhy() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let moved = try #require(Self.otherFileSystem) + "/depot-public-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: moved) }
        try FileManager.default.moveItem(atPath: repository.publicDirectory, toPath: moved)
        try FileManager.default.createSymbolicLink(atPath: repository.publicDirectory, withDestinationPath: moved)
        let before = try repository.snapshot()

        let result = try repository.depot(["push", "staging", Self.snowbird])
        #expect(result.status != 0)
        #expect(result.standardError.hasSuffix("must be on one file system: files are moved from one to the other)\n"))
        #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
        #expect(try repository.snapshot() == before)
    }

    @Test func anArchitectureTheRepositoryDoesNotCarryIsRefused() throws {
        let repository = try ScratchRepository(["--architectures", "amd64"])
        defer { repository.remove() }
        let before = try repository.snapshot()
        let arm = TestSupport.fixture("good/snowbird_1.4.2-1_arm64.deb")
        let result = try repository.depot(["push", "development", arm])
        #expect(result.status != 0)
        #expect(
            result.standardError
                == "depot: error: \(arm): architecture 'arm64' is not carried by development (Architectures: amd64); add it to depot.conf or push another build\n"
        )
        #expect(try repository.snapshot() == before)
    }

    @Test func filesFromReadsTheListOfPackagesFromStandardInput() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        func push(listing list: String) throws -> TestSupport.ProcessResult {
            try TestSupport.run(
                TestSupport.depotExecutable,
                ["--root", repository.root.path, "push", "development", "--files-from", "-"], input: Data(list.utf8))
        }
        // One line ends as on Windows.
        let result = try push(
            listing: Self.snowbird + "\r\n" + TestSupport.fixture("good/epochal_3.1-1_amd64.deb") + "\n")
        #expect(result.status == 0, "\(result.standardError)")
        let listed = try repository.depot(["list", "development"]).text
        #expect(listed.contains("snowbird") && listed.contains("epochal"))

        // No file at all is an error, not a quiet success: the build that was to make them failed.
        let before = try repository.snapshot()
        let nothing = try repository.depot(["push", "development"])
        #expect(nothing.status != 0 && nothing.standardError.contains("--files-from"))
        let emptyList = try push(listing: "\n")
        #expect(emptyList.status != 0)
        #expect(emptyList.standardError == "depot: error: standard input: lists no .deb files to push\n")
        #expect(try repository.snapshot() == before)
    }

    @Test func removeUnlistsAPackageButKeepsItsFileInThePool() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let epochal = TestSupport.fixture("good/epochal_3.1-1_amd64.deb")
        try #require(try repository.depot(["push", "staging", Self.snowbird, epochal]).status == 0)
        let removed = try repository.depot(["remove", "staging", "snowbird=1.4.2-1"])
        #expect(removed.status == 0, "\(removed.standardError)")
        #expect(removed.text == "removed snowbird 1.4.2-1 (amd64) from staging\n")
        let listed = try repository.depot(["list", "staging"]).text
        #expect(!listed.contains("snowbird") && listed.contains("epochal"))
        let packages = try String(
            contentsOf: repository.root.appendingPathComponent("public/dists/staging/main/binary-amd64/Packages"),
            encoding: .utf8)
        #expect(!packages.contains("Package: snowbird") && packages.contains("Package: epochal"))
        let shown = try repository.depot(["show", "snowbird"]).text
        #expect(shown.contains("Listed in: (none)"))
        #expect(
            FileManager.default.fileExists(
                atPath: repository.root.appendingPathComponent(
                    "public/pool/main/s/snowbird-src/snowbird_1.4.2-1_amd64.deb"
                ).path))

        let before = try repository.snapshot()
        let again = try repository.depot(["remove", "staging", "snowbird"])
        #expect(again.status != 0 && again.standardError == "depot: error: staging does not list snowbird\n")
        let invalid = try repository.depot(["remove", "staging", "../x"])
        #expect(invalid.status != 0 && invalid.standardError.contains("invalid package '../x'"))
        #expect(try repository.snapshot() == before)
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func aDistributionDroppedFromDepotConfIsShownAfterTheConfiguredOnes() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Distribution: development\n", with: "Distribution: qa\n\nDistribution: development\n")
        try #require(try repository.depot(["push", "qa", Self.snowbird]).status == 0)
        try #require(try repository.depot(["push", "production", Self.snowbird]).status == 0)
        try repository.editConfiguration(replacing: "Distribution: qa\n\n", with: "")

        // The store is the truth: qa's listing stays, after every configured distribution.
        let rows = try repository.depot(["list"]).text.split(separator: "\n").map { $0.split(separator: " ")[0] }
        #expect(rows == ["DISTRIBUTION", "production", "qa"])
        #expect(try repository.depot(["show", "snowbird"]).text.contains("Listed in: production, qa"))
    }

    @Test func exportKeyPrintsThePublishedKeyThatGpgReads() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let exported = try repository.depot(["export-key"])
        #expect(exported.status == 0)
        #expect(
            exported.standardOutput
                == (try Data(contentsOf: repository.root.appendingPathComponent("public/archive-key.asc"))))
        let shown = try TestSupport.run(
            "gpg", ["--batch", "--show-keys", "--with-colons"], input: exported.standardOutput)
        let configuration = try String(
            contentsOf: repository.root.appendingPathComponent("depot.conf"), encoding: .utf8)
        let fingerprint = shown.text.split(separator: "\n").first { $0.hasPrefix("fpr:") }?.split(separator: ":")[1]
        #expect(fingerprint.map { configuration.contains("Sign-With: \($0)") } == true)
    }

    @Test(.enabled(if: TestSupport.hasProgram("script"), "needs script(1) for a terminal"))
    func progressGoesToATerminalAndNeverIntoLogs() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        var files: [String] = []
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        for number in 0..<25 { files.append(try build("many-\(number)", version: "1.0")) }
        let list = repository.root.appendingPathComponent("list").path
        try files.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let command =
            "'\(TestSupport.depotExecutable)' --root '\(repository.root.path)' push development --files-from '\(list)' >/dev/null"
        let onTerminal = try TestSupport.run("script", ["-qc", command, "/dev/null"])
        #expect(onTerminal.status == 0)
        #expect(onTerminal.text.contains("reading 25/25 files"), "\(onTerminal.text)")

        let quiet = try repository.depot(["push", "staging", "--files-from", list])
        #expect(quiet.status == 0 && quiet.standardError.isEmpty)
    }

    @Test func pushingTheSameFileAgainChangesNothing() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "staging", Self.snowbird]).status == 0)
        let before = try repository.snapshot()
        let again = try repository.depot(["push", "staging", Self.snowbird])
        #expect(again.status == 0)
        #expect(again.text.contains("unchanged snowbird 1.4.2-1 (amd64)"))
        #expect(try repository.snapshot() == before)
    }

    @Test func pushingOtherBytesUnderTheSameVersionIsAConflictNamingBothChecksums() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "production", Self.snowbird]).status == 0)
        let rebuilt = try rebuild(Self.snowbird, changing: "1.4.2-1 for amd64")
        defer { try? FileManager.default.removeItem(atPath: rebuilt) }
        let before = try repository.snapshot()

        let result = try repository.depot(["push", "development", rebuilt])
        #expect(result.status != 0)
        let original = try TestSupport.run("sha256sum", [Self.snowbird]).text.prefix(64)
        let other = try TestSupport.run("sha256sum", [rebuilt]).text.prefix(64)
        #expect(result.standardError.contains("conflict: snowbird 1.4.2-1 (amd64)"))
        #expect(result.standardError.contains(String(original)) && result.standardError.contains(String(other)))
        #expect(result.standardError.contains("listed in production"))
        #expect(try repository.snapshot() == before)
    }

    @Test func aLowerVersionNeedsAllowDowngradeWhichUnlistsTheNewerOne() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let newer = try build("snowbird", version: "1.5-1")
        defer { try? FileManager.default.removeItem(atPath: newer) }
        try #require(try repository.depot(["push", "staging", newer]).status == 0)

        let refused = try repository.depot(["push", "staging", Self.snowbird])
        #expect(refused.status != 0)
        #expect(
            refused.standardError.contains(
                "snowbird 1.4.2-1 is lower than 1.5-1 listed in staging; pass --allow-downgrade"))

        let accepted = try repository.depot(["push", "staging", Self.snowbird, "--allow-downgrade"])
        #expect(accepted.status == 0, "\(accepted.standardError)")
        #expect(try repository.listings("staging").map(\.file.version) == ["1.4.2-1"])
    }

    @Test func aDistributionKeepsOnlyKeepVersionsOfAPackage() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        var files: [String] = []
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        for version in ["1.0-1", "1.1-1", "2.0~rc1-1"] {
            files.append(try build("kite", version: version))
            try #require(try repository.depot(["push", "development", files.last!]).status == 0)
        }
        let listed = try repository.depot(["list", "development"]).text
        #expect(listed.contains("2.0~rc1-1") && !listed.contains("1.1-1") && !listed.contains("1.0-1"))
        // Unlisted files stay in the pool, for rollback.
        let shown = try repository.depot(["show", "kite", "--json"])
        let report = try JSONSerialization.jsonObject(with: shown.standardOutput) as? [String: Any]
        #expect((report?["versions"] as? [Any])?.count == 3)
        let verify = try repository.depot(["verify"])
        #expect(verify.status == 0, "\(verify.standardError)")
    }

    /// A copy of a package with one byte of its data changed: same name, version and
    /// architecture, other content.
    private func rebuild(_ path: String, changing text: String) throws -> String {
        let folder = try TestSupport.makeTemporaryDirectory("rebuild")
        defer { try? FileManager.default.removeItem(at: folder) }
        try #require(try TestSupport.run("dpkg-deb", ["-R", path, folder.path]).status == 0)
        let readme = folder.appendingPathComponent("usr/share/doc/snowbird/README")
        try (text + " rebuilt\n").write(to: readme, atomically: true, encoding: .utf8)
        let output = folder.deletingLastPathComponent().appendingPathComponent("rebuilt-\(UUID()).deb").path
        try #require(try TestSupport.run("dpkg-deb", ["--root-owner-group", "-b", folder.path, output]).status == 0)
        return output
    }
}

/// Builds a minimal package with dpkg-deb and returns its path.
func build(_ name: String, version: String, architecture: String = "amd64", extra: [String] = []) throws -> String {
    let folder = try TestSupport.makeTemporaryDirectory("build")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(
        at: folder.appendingPathComponent("DEBIAN"), withIntermediateDirectories: true)
    let control =
        [
            "Package: \(name)", "Version: \(version)", "Architecture: \(architecture)",
            "Maintainer: Depot Tests <tests@depot.example>",
        ] + extra + ["Description: \(name) for a test"]
    try (control.joined(separator: "\n") + "\n").write(
        to: folder.appendingPathComponent("DEBIAN/control"), atomically: true, encoding: .utf8)
    let output = folder.deletingLastPathComponent().appendingPathComponent(
        "\(name)_\(version)_\(architecture)-\(UUID()).deb"
    ).path
    let result = try TestSupport.run("dpkg-deb", ["--root-owner-group", "-b", folder.path, output])
    guard result.status == 0 else { throw TestSupportError("dpkg-deb failed: \(result.standardError)") }
    return output
}
