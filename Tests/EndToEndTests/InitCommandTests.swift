import DepotTestSupport
import Foundation
import Testing

@Suite struct InitCommandTests {
    @Test func initSignsWithAGivenKeyCopiedFromAnotherGnuPGHome() throws {
        let home = try TestSupport.makeTemporaryDirectory("gpg")
        chmod(home.path, 0o700)
        defer {
            _ = try? TestSupport.run("gpgconf", ["--homedir", home.path, "--kill", "gpg-agent"])
            try? FileManager.default.removeItem(at: home)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["GNUPGHOME"] = home.path
        let made = try TestSupport.run(
            "gpg",
            ["--batch", "--passphrase", "", "--quick-gen-key", "Ops <ops@example.com>", "rsa3072", "sign", "never"],
            environment: environment)
        try #require(made.status == 0, "\(made.standardError)")
        let listing = try TestSupport.run(
            "gpg", ["--batch", "--with-colons", "--list-secret-keys"], environment: environment
        ).text
        let fingerprint = try #require(
            listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }?.split(
                separator: ":", omittingEmptySubsequences: false)[9])

        let repository = try ScratchRepository(["--sign-with", String(fingerprint), "--gnupg-home", home.path])
        defer { repository.remove() }
        let configuration = try String(
            contentsOf: repository.root.appendingPathComponent("depot.conf"), encoding: .utf8)
        #expect(configuration.contains("Sign-With: \(fingerprint)"))
        // The published signature verifies with the given key's public half, exported by gpg itself.
        let exported = try TestSupport.run(
            "gpg", ["--batch", "--armor", "--export", String(fingerprint)], environment: environment)
        let keyring = home.appendingPathComponent("given.asc")
        try exported.standardOutput.write(to: keyring)
        let dearmored = home.appendingPathComponent("given.gpg").path
        try #require(
            try TestSupport.run("gpg", ["--batch", "--yes", "--dearmor", "-o", dearmored, keyring.path]).status == 0)
        let inRelease = repository.root.appendingPathComponent("public/dists/production/InRelease").path
        let verified = try TestSupport.run("gpgv", ["--keyring", dearmored, inRelease])
        #expect(verified.status == 0, "\(verified.standardError)")
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func initRefusesAnUnknownKeyAndAnExistingRepository() throws {
        let root = try TestSupport.makeTemporaryDirectory("repo")
        defer { try? FileManager.default.removeItem(at: root) }
        let emptyHome = try TestSupport.makeTemporaryDirectory("gpg")
        chmod(emptyHome.path, 0o700)
        defer { try? FileManager.default.removeItem(at: emptyHome) }
        let unknown = try TestSupport.run(
            TestSupport.depotExecutable,
            [
                "--root", root.path, "init", "--sign-with", "0123456789ABCDEF0123456789ABCDEF01234567", "--gnupg-home",
                emptyHome.path,
            ])
        #expect(unknown.status != 0)
        #expect(unknown.standardError.hasPrefix("depot: error: "))
        #expect(unknown.standardError.contains("0123456789ABCDEF0123456789ABCDEF01234567"))
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("depot.conf").path))

        let repository = try ScratchRepository()
        defer { repository.remove() }
        let again = try repository.depot(["init"])
        #expect(again.status != 0)
        #expect(again.standardError.contains("already holds a repository"))
    }

    /// What init once copied into Release (`Architectures: amd64 amd64`, each index listed
    /// twice, a second line of Origin) is refused, and depot.conf's reader applies the same
    /// rules.
    @Test func initRefusesRepeatedNamesReservedArchitecturesAndLineBreaks() throws {
        let cases: [([String], String)] = [
            (["--architectures", "amd64,amd64"], "'amd64' is listed twice in Architectures"),
            (["--components", "main,main"], "'main' is listed twice in Components"),
            (["--architectures", "source"], "'source' names a distribution's source indices"),
            (["--architectures", "all"], "'all' packages go into every architecture"),
            (["--origin", "Example\nLabel: Evil"], "Origin must be one line"),
            (["--label", "Example\nCorp"], "Label must be one line"),
            (["--origin", "Example\u{1B}[31m"], "control character (ESC, 0x1B)"),
        ]
        for (arguments, message) in cases {
            let root = try TestSupport.makeTemporaryDirectory("repo")
            defer { try? FileManager.default.removeItem(at: root) }
            let result = try TestSupport.run(TestSupport.depotExecutable, ["--root", root.path, "init"] + arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.standardError.hasPrefix("depot: error: "), "\(result.standardError)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "\(arguments)")
        }

        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Architectures: amd64 arm64", with: "Architectures: amd64 arm64 amd64")
        let list = try repository.depot(["list"])
        #expect(list.status != 0)
        #expect(
            list.standardError.contains("depot.conf:3: 'amd64' is listed twice in Architectures"),
            "\(list.standardError)")
    }
}
