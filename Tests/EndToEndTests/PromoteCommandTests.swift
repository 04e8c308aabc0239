import DebianFormat
import DepotTestSupport
import Foundation
import Testing

/// Promotion moves the very file that was tested: same pool path, same bytes.
@Suite struct PromoteCommandTests {
    static let snowbird = TestSupport.fixture("good/snowbird_1.4.2-1_amd64.deb")
    static let snowbirdArm = TestSupport.fixture("good/snowbird_1.4.2-1_arm64.deb")

    @Test func promotionListsTheSamePoolFileForEveryArchitecture() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(
            try repository.depot(["push", "development", Self.snowbird, Self.snowbirdArm, "--note", "build 7"]).status
                == 0)
        let promoted = try repository.depot(["promote", "snowbird", "--from", "development", "--note", "QA passed"])
        #expect(promoted.status == 0, "\(promoted.standardError)")
        #expect(promoted.text.contains("promoted snowbird 1.4.2-1 (amd64) from development to staging"))
        for architecture in ["amd64", "arm64"] {
            let source = try #require(try repository.packagesIndex("development", architecture: architecture)["snowbird"])
            let target = try #require(try repository.packagesIndex("staging", architecture: architecture)["snowbird"])
            #expect(source == target, "the \(architecture) stanzas differ")
        }
        #expect(try repository.packagesIndex("production").isEmpty)

        let entries = try repository.history("staging")
        #expect(entries.count == 1)
        #expect(entries.first?.operation == "promote")
        #expect(entries.first?.note == "QA passed")
        #expect(entries.first?.changes.count == 2)
        let all = try repository.depot(["history"]).text
        #expect(all.contains("push development") && all.contains("note: build 7"))
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func aDryRunAndAFailedPromotionChangeNothing() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try #require(try repository.depot(["push", "development", Self.snowbird]).status == 0)
        let before = try repository.snapshot()

        let dryRun = try repository.depot(["promote", "snowbird", "--from", "development", "--dry-run"])
        #expect(dryRun.status == 0)
        #expect(dryRun.text == "would promote snowbird 1.4.2-1 (amd64) from development to staging (new)\n")
        #expect(try repository.snapshot() == before)

        try expectRefusals(
            repository,
            [
                (
                    ["promote", "snowbird=9.9", "--from", "development"],
                    "development does not list snowbird version 9.9"
                ),
                (["promote", "snowbird", "ghost", "--from", "development"], "development does not list ghost"),
                (["promote", "snowbird", "--from", "production"], "production promotes to no distribution"),
                (["promote", "snowbird", "--from", "nowhere"], "unknown distribution 'nowhere'"),
                (["promote", "--from", "development"], "name the packages to promote, or promote all"),
            ])
    }

    @Test func diffNamesEveryKindOfDifferenceAndPromoteAllTakesNewAndUpgrades() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try expectRefusals(
            repository,
            [
                (["diff", "staging", "staging"], "name two different distributions"),
                (["history", "--limit", "0"], "--limit must be 1 or more"),
            ])
        var built: [String] = []
        defer { for path in built { try? FileManager.default.removeItem(atPath: path) } }
        func make(_ name: String, _ version: String) throws -> String {
            built.append(try build(name, version: version))
            return built.last!
        }
        try #require(
            try repository.depot([
                "push", "staging", try make("upgraded", "2.0-1"), try make("downgraded", "1.0-1"),
                try make("fresh", "1.0-1"), try make("same", "1.0-1"),
            ]).status == 0)
        try #require(
            try repository.depot([
                "push", "production", try make("upgraded", "1.0-1"), try make("downgraded", "2.0-1"),
                try make("retired", "1.0-1"),
            ]).status == 0)
        try #require(try repository.depot(["promote", "same", "--from", "staging"]).status == 0)

        let diff = try repository.depot(["diff", "staging", "production", "--json"])
        let rows = try JSONSerialization.jsonObject(with: diff.standardOutput) as? [[String: Any]] ?? []
        let kinds = Dictionary(uniqueKeysWithValues: rows.map { ($0["package"] as! String, $0["kind"] as! String) })
        #expect(
            kinds == ["upgraded": "upgrade", "downgraded": "downgrade", "fresh": "new", "retired": "only-in-target"])

        let all = try repository.depot(["promote", "--all", "--from", "staging"])
        #expect(all.status == 0, "\(all.standardError)")
        let versions = Dictionary(
            uniqueKeysWithValues: try repository.listings("production").map { ($0.file.name, $0.file.version) })
        #expect(
            versions == [
                "upgraded": "2.0-1", "downgraded": "2.0-1", "fresh": "1.0-1", "same": "1.0-1", "retired": "1.0-1",
            ])
        let after =
            try JSONSerialization.jsonObject(
                with: try repository.depot(["diff", "staging", "production", "--json"]).standardOutput)
            as? [[String: Any]] ?? []
        #expect(Set(after.map { $0["kind"] as! String }) == ["downgrade", "only-in-target"])

        // Promoting the lower version needs --allow-downgrade.
        let refused = try repository.depot(["promote", "downgraded", "--from", "staging"])
        #expect(refused.status != 0 && refused.standardError.contains("--allow-downgrade"))
        #expect(try repository.depot(["promote", "downgraded", "--from", "staging", "--allow-downgrade"]).status == 0)
        #expect(try repository.depot(["list", "production"]).text.contains("downgraded"))
    }

    @Test func aPromotionThatWouldLeaveADependencyUnmetIsRefusedOrTakesItsDependenciesAlong() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "staging", try packages.make("libtern", "1.0-1")]).status == 0)
        try #require(
            try repository.depot([
                "push", "development", try packages.make("libtern", "2.0-1"),
                // libc6 is not this repository's: it comes from the clients' Debian sources.
                try packages.make("tern", "1.0-1", extra: ["Depends: libtern (>= 2.0), libc6 (>= 2.36)"]),
            ]).status == 0)
        let before = try repository.snapshot()

        let refused = try repository.depot(["promote", "tern", "--from", "development"])
        #expect(refused.status != 0)
        #expect(
            refused.standardError
                == "depot: error: promotion refused: tern 1.0-1 (amd64) depends on 'libtern (>= 2.0)', which staging "
                + "would not satisfy; promote what it needs too, or pass --with-deps to take it from development\n")
        #expect(try repository.snapshot() == before)

        let along = try repository.depot(["promote", "tern", "--from", "development", "--with-deps"])
        #expect(along.status == 0, "\(along.standardError)")
        #expect(along.text.contains("promoted libtern 2.0-1 (amd64) from development to staging (was 1.0-1)"))
        #expect(try listed(repository, "staging") == ["tern 1.0-1 amd64", "libtern 2.0-1 amd64"])
        // Both are one history entry: one rollback undoes the promotion.
        #expect(try repository.depot(["rollback", "staging", "--to", "1"]).status == 0)
        #expect(try listed(repository, "staging") == ["libtern 1.0-1 amd64"])
    }

    @Test func dependenciesHonourProvidesAlternativesAndArchitectures() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(
            try repository.depot([
                "push", "production", try packages.make("mailer", "1.0-1", extra: ["Provides: mail-transport (= 1)"]),
                try packages.make("helper", "1.0-1", architecture: "amd64"),
            ]).status == 0)
        try #require(
            try repository.depot([
                "push", "staging",
                // The second alternative is met by a Provides, unversioned requirement.
                try packages.make("notifier", "1.0-1", extra: ["Depends: sendmail | mail-transport"]),
                try packages.make("sendmail", "1.0-1"),
                // A versioned requirement a lower provided version does not meet.
                try packages.make("digest", "1.0-1", extra: ["Depends: mail-transport (>= 2)"]),
                // An Architecture: all package needs its dependency on every architecture.
                try packages.make("toolkit", "1.0-1", architecture: "all", extra: ["Pre-Depends: helper"]),
            ]).status == 0)

        let notifier = try repository.depot(["promote", "notifier", "--from", "staging"])
        #expect(notifier.status == 0, "\(notifier.standardError)")
        #expect(try listed(repository, "production").contains("notifier 1.0-1 amd64"))

        let digest = try repository.depot(["promote", "digest", "--from", "staging", "--with-deps"])
        #expect(
            digest.standardError.contains(
                "digest 1.0-1 (amd64) depends on 'mail-transport (>= 2)', which production would not satisfy; "
                    + "staging cannot satisfy it either"), "\(digest.standardError)")

        let toolkit = try repository.depot(["promote", "toolkit", "--from", "staging"])
        #expect(toolkit.status != 0)
        #expect(toolkit.standardError.contains("toolkit 1.0-1 (arm64) depends on 'helper'"))
        #expect(!toolkit.standardError.contains("(amd64)"), "helper (amd64) is in production")

        // A name only provided by a package elsewhere in the repository is the repository's
        // business too, not an outside one.
        try #require(
            try repository.depot([
                "push", "development", try packages.make("relay", "1.0-1", extra: ["Provides: mail-relay"]),
            ]).status == 0)
        try #require(
            try repository.depot([
                "push", "staging", try packages.make("alerter", "1.0-1", extra: ["Depends: mail-relay"]),
            ]).status == 0)
        let alerter = try repository.depot(["promote", "alerter", "--from", "staging"])
        #expect(
            alerter.standardError.contains("alerter 1.0-1 (amd64) depends on 'mail-relay'"), "\(alerter.standardError)")

        // An operator who knows better can still promote.
        let forced = try repository.depot(["promote", "toolkit", "--from", "staging", "--ignore-dependencies"])
        #expect(forced.status == 0, "\(forced.standardError)")
        #expect(try listed(repository, "production").contains("toolkit 1.0-1 all"))

        // Through the API too: the same request, checked in the same place.
        let token = try repository.createToken("ops", allowing: ["promote:production"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        func promote(_ body: String) throws -> HTTPAnswer {
            try HTTPAnswer(
                server.curl("api/v1/promotions", ["-H", "Authorization: Bearer \(token)", "--data-binary", body]))
        }
        let refused = try promote(#"{"packages": ["alerter"], "from": "staging"}"#)
        #expect(refused.status == 409 && refused.error == "unmet-dependencies")
        let ignored = try promote(#"{"packages": ["alerter"], "from": "staging", "ignoreDependencies": true}"#)
        #expect(ignored.status == 200, "\(String(decoding: ignored.body, as: UTF8.self))")
        #expect(try listed(repository, "production").contains("alerter 1.0-1 amd64"))
    }
}
