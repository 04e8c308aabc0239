import DepotTestSupport
import Foundation
import Testing

/// Phased rollouts and promotion gates, from the command line and the API, proven with the
/// real apt-get.
@Suite struct ReleaseControlTests {
    /// 40 machine ids, fixed, so that the draws apt makes are the same on every run.
    static let machines = (1...40).map { index in
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        let mixed = UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        return hex(mixed) + hex((mixed ^ (mixed >> 29)) &* 0xBF58_476D_1CE4_E5B9)
    }

    /// The machines among `machines` whose `apt-get -s upgrade` takes `package` to `version`
    /// (the others keep their installed version back).
    func upgrading(_ apt: AptClient, _ package: String, to version: String) throws -> Set<String> {
        var upgraded: Set<String> = []
        for machine in Self.machines {
            let run = try apt.run(["-s", "-o", "APT::Machine-ID=\(machine)", "upgrade"])
            #expect(run.status == 0, "\(run.standardError)")
            if run.text.contains("Inst \(package) [1.0-1] (\(version) ") { upgraded.insert(machine) }
        }
        return upgraded
    }

    @Test func aPhasedVersionReachesTheShareOfMachinesItsPercentageSaysAndRollbackRestoresIt() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "1.0-1")]).status == 0)
        try #require(try repository.depot(["promote", "tern", "--from", "staging"]).status == 0)
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "2.0-1")]).status == 0)
        let promoted = try repository.depot(["promote", "tern", "--from", "staging", "--phase", "0"])
        #expect(promoted.status == 0, "\(promoted.standardError)")
        #expect(promoted.text.contains("phased 0%"))

        // The field is in production's stanza only: staging lists the same file unphased.
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 0\n"))
        #expect(!(try repository.packagesText("staging")).contains("Phased-Update-Percentage"))
        #expect(try repository.listings("production").map(\.phase) == [0])

        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try AptClient(
            sources: ["deb [signed-by=\(repository.archiveKey)] \(server.url) production main"],
            installed: [("tern", "1.0-1")])
        defer { apt.remove() }
        func phase(_ percentage: Int) throws -> Set<String> {
            let result = try repository.depot(["phase", "production", "tern", String(percentage)])
            #expect(result.status == 0, "\(result.standardError)")
            let update = try apt.run(["update"])
            #expect(update.status == 0 && !update.standardError.contains("W:"), "\(update.standardError)")
            return try upgrading(apt, "tern", to: "2.0-1")
        }

        #expect(try apt.run(["update"]).status == 0)
        #expect(try upgrading(apt, "tern", to: "2.0-1").isEmpty, "a halted rollout upgraded a machine")
        // A phase republishes its distribution only.
        let stagingRelease = repository.publicDirectory + "/dists/staging/InRelease"
        let stagingBefore = try Data(contentsOf: URL(fileURLWithPath: stagingRelease))
        let quarter = try phase(25)
        #expect(try Data(contentsOf: URL(fileURLWithPath: stagingRelease)) == stagingBefore)
        let half = try phase(50)
        #expect(!quarter.isEmpty && quarter.count < 20, "\(quarter.count) of 40 at 25%")
        #expect(half.count > quarter.count && half.count < 40, "\(half.count) of 40 at 50%")
        #expect(quarter.isSubset(of: half), "a machine that upgraded at 25% did not at 50%")
        #expect(try phase(100).count == 40)
        #expect(!(try repository.packagesText("production")).contains("Phased-Update-Percentage"))

        // Each change of the percentage is an entry; rolling the last one back puts 50% back.
        let entries = try repository.history("production")
        #expect(entries.prefix(3).map(\.operation) == ["phase", "phase", "phase"])
        let rollback = try repository.depot(["rollback", "production", "tern"])
        #expect(rollback.text == "tern (amd64) in production: 2.0-1 -> 2.0-1 (50%)\n", "\(rollback.standardError)")
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 50\n"))
        #expect(try apt.run(["update"]).status == 0)
        #expect(try upgrading(apt, "tern", to: "2.0-1") == half)
        let show = try repository.depot(["show", "tern"]).text
        #expect(show.contains("Listed in: staging, production (phased 50%)"), "\(show)")
        #expect(try repository.depot(["verify"]).status == 0)
    }

    @Test func aRampWidensOnScheduleThroughAdvanceAndServeAndAManualPhaseStopsIt() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "production", try packages.make("tern", "1.0-1")]).status == 0)
        let ramp = try repository.depot(["phase", "production", "tern", "--ramp", "10,25,50,100", "--every", "2s"])
        #expect(ramp.status == 0, "\(ramp.standardError)")
        #expect(ramp.text.hasPrefix("tern 1.0-1 in production: 100% -> 10%\n"), "\(ramp.text)")
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 10\n"))

        usleep(2_200_000)
        let advance = try repository.depot(["phase", "--advance"])
        #expect(advance.text.hasPrefix("tern 1.0-1 in production: 10% -> 25%\n"), "\(advance.text)")
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 25\n"))
        #expect(try repository.depot(["phase", "--advance"]).text == "no ramp step is due\n")

        // depot serve takes the remaining steps by itself, one entry each.
        let server = try DepotServe(root: repository.root, arguments: ["--advance-phases-every", "0.3"])
        var index = ""
        for _ in 0..<200 {
            index = try repository.packagesText("production")
            if !index.contains("Phased-Update-Percentage") { break }
            usleep(100_000)
        }
        server.stop()
        #expect(!index.contains("Phased-Update-Percentage"), "the ramp did not finish: \(index)")
        let steps = try repository.history("production").prefix(4).map { $0.changes.first?.afterPhase ?? 100 }
        #expect(steps == [100, 50, 25, 10])
        #expect(try repository.depot(["show", "tern"]).text.contains("Ramp in") == false)

        // A manual phase stops a ramp under way.
        try #require(
            try repository.depot(["phase", "production", "tern", "--ramp", "5,100", "--every", "1s"]).status == 0)
        #expect(try repository.depot(["show", "tern"]).text.contains("Ramp in production: tern 1.0-1 to 100%"))
        try #require(try repository.depot(["phase", "production", "tern", "0", "--note", "crashes"]).status == 0)
        usleep(1_200_000)
        #expect(try repository.depot(["phase", "--advance"]).text == "no ramp step is due\n")
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 0\n"))
    }

    @Test func badPhasesAreRefusedAndChangeNothing() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let packages = PackageBuilder()
        // One build pushed twice: a second build of the same version may differ in its bytes.
        let tern = try packages.make("tern", "1.0-1")
        try #require(try repository.depot(["push", "production", tern]).status == 0)
        try #require(try repository.depot(["push", "staging", tern]).status == 0)
        try expectRefusals(
            repository,
            [
                (["phase", "production", "tern", "101"], "a phase is a percentage from 0 (halted) to 100"),
                (["phase", "production", "gull", "10"], "production does not list gull"),
                (["phase", "development", "tern", "10"], "development does not list tern"),
                (["phase", "nowhere", "tern", "10"], "nowhere"),
                (["phase", "production", "tern", "--ramp", "50,25", "--every", "1h"], "the steps of a ramp must rise"),
                (["phase", "production", "tern", "--ramp", "10,x", "--every", "1h"], "--ramp takes whole percentages"),
                (["phase", "production", "tern", "--ramp", "10,50", "--every", "soon"], "is a duration such as 30m, 6h or 1d"),
                (["phase", "production", "tern", "--ramp", "10,50"], "a ramp needs the time between its steps"),
                (["promote", "tern", "--from", "staging", "--phase", "150"], "not 150"),
            ])
    }

    @Test func gatesStopAPromotionUntilItSoakedAndOthersApprovedIt() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Distribution: production\n",
            with: "Distribution: production\nMin-Soak: 5s\nApprovals: 1\n")
        var environment = ProcessInfo.processInfo.environment
        func user(_ name: String) -> ScratchRepository {
            environment["USER"] = name
            return ScratchRepository(existing: repository.root, environment: environment)
        }
        let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"))
        let packages = PackageBuilder()
        try #require(try alice.depot(["push", "staging", try packages.make("tern", "2.0-1")]).status == 0)
        let pushedAt = Date()

        // Both gates closed: the refusal names each, and when or how it opens.
        let refused = try bob.depot(["promote", "tern", "--from", "staging"])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("tern 2.0-1 has been in staging for "), "\(refused.standardError)")
        #expect(refused.standardError.contains("; production requires 5s (Min-Soak); it can be promoted after 20"))
        #expect(refused.standardError.contains("depot approve production tern=2.0-1"))
        #expect(refused.standardError.contains("its pusher alice@"))
        #expect(try listed(repository, "production").isEmpty)

        // A dry run reports the gates and fails as the promotion would.
        let dryRun = try bob.depot(["promote", "tern", "--from", "staging", "--dry-run", "--json"])
        #expect(dryRun.status == 1)
        let report = try JSONSerialization.jsonObject(with: dryRun.standardOutput) as? [String: Any]
        let gates = report?["gates"] as? [[String: Any]] ?? []
        #expect(gates.map { $0["gate"] as? String } == ["Min-Soak", "Approvals"])
        #expect(gates.allSatisfy { $0["open"] as? Bool == false })

        // Approvals: not by the pusher, not twice, not of a version staging does not list.
        try expectRefusals(
            alice, [(["approve", "production", "tern=2.0-1"], "cannot approve it (four eyes)")])
        try #require(try bob.depot(["approve", "production", "tern=2.0-1", "--note", "looks good"]).status == 0)
        try expectRefusals(
            bob,
            [
                (["approve", "production", "tern=2.0-1"], "has already approved tern 2.0-1 (amd64) for production"),
                (["approve", "production", "tern=9.9-1"], "staging does not list tern version 9.9-1"),
                (["approve", "production", "tern"], "name the version to approve"),
            ])

        // A phase change in staging relists the file there, but does not restart its soak.
        try #require(try alice.depot(["phase", "staging", "tern", "50"]).status == 0)
        usleep(UInt32(max(0, 5.3 - Date().timeIntervalSince(pushedAt)) * 1_000_000))

        // Bob approved, so Bob's promotion lacks an approval: the promoter does not count.
        let byApprover = try bob.depot(["promote", "tern", "--from", "staging"])
        #expect(byApprover.status == 1)
        #expect(byApprover.standardError.contains("has 0 of the 1 approval production requires (Approvals)"))
        #expect(!byApprover.standardError.contains("Min-Soak"), "\(byApprover.standardError)")
        let promoted = try carol.depot(["promote", "tern", "--from", "staging"])
        #expect(promoted.status == 0, "\(promoted.standardError)")
        #expect(try listed(repository, "production") == ["tern 2.0-1 amd64"])
        let show = try repository.depot(["show", "tern"]).text
        #expect(show.contains("Approved for production by bob@"), "\(show)")
        #expect(show.contains(": looks good"))

        // Overriding is allowed, and history says who overrode which gate.
        try #require(try alice.depot(["push", "staging", try packages.make("tern", "3.0-1")]).status == 0)
        let overridden = try alice.depot(["promote", "tern", "--from", "staging", "--override-gates"])
        #expect(overridden.status == 0, "\(overridden.standardError)")
        let entry = try #require(try repository.history("production").first)
        #expect(entry.overriddenGates == ["Min-Soak", "Approvals"])
        #expect(entry.user.hasPrefix("alice@"))
        #expect(try repository.depot(["history", "production", "--limit", "1"]).text.contains("overrode gates: Min-Soak, Approvals"))
    }

    @Test func theAPIPhasesApprovesAndOverridesOnlyWithTheirScopes() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(
            replacing: "Distribution: production\n", with: "Distribution: production\nApprovals: 1\n")
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "2.0-1")]).status == 0)
        let release = try repository.createToken("release", allowing: ["promote:production", "read:*"])
        let reviewer = try repository.createToken("reviewer", allowing: ["approve:production"])
        let lead = try repository.createToken("lead", allowing: ["promote:production", "override:production"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        func post(_ path: String, _ token: String, _ body: String) throws -> HTTPAnswer {
            try HTTPAnswer(
                server.curl(
                    "api/v1/" + path,
                    ["-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json", "--data-binary", body]))
        }
        let promotion = #"{"packages": ["tern"], "from": "staging", "phase": 20}"#

        let closed = try post("promotions", release, promotion)
        #expect(closed.status == 409)
        #expect((closed.json as? [String: Any])?["error"] as? String == "gates-closed")
        #expect(try post("distributions/production/approvals", release, #"{"package": "tern", "version": "2.0-1"}"#).status == 403)
        #expect(try post("promotions", release, #"{"packages": ["tern"], "from": "staging", "overrideGates": true}"#).status == 403)
        let approval = try post("distributions/production/approvals", reviewer, #"{"package": "tern", "version": "2.0-1", "note": "ok"}"#)
        #expect(approval.status == 201, "\(String(decoding: approval.body, as: UTF8.self))")
        let again = try post("distributions/production/approvals", reviewer, #"{"package": "tern", "version": "2.0-1"}"#)
        #expect(again.status == 409 && again.error == "already-approved")

        let accepted = try post("promotions", release, promotion)
        #expect(accepted.status == 200, "\(String(decoding: accepted.body, as: UTF8.self))")
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 20\n"))

        // Phases through the API: a percentage, a ramp, and bad input refused.
        #expect(try post("distributions/production/phases", reviewer, #"{"package": "tern", "percentage": 30}"#).status == 403)
        let widened = try post("distributions/production/phases", release, #"{"package": "tern", "percentage": 40}"#)
        #expect(widened.status == 200)
        #expect((widened.json as? [String: Any])?["after"] as? Int == 40)
        let ramp = try post(
            "distributions/production/phases", release, #"{"package": "tern", "ramp": [60, 100], "every": "6h"}"#)
        #expect((ramp.json as? [String: Any])?["ramp"] != nil, "\(String(decoding: ramp.body, as: UTF8.self))")
        for bad in [
            #"{"package": "tern", "percentage": -5}"#, #"{"package": "tern"}"#,
            #"{"package": "tern", "ramp": [10, 20], "every": "whenever"}"#,
        ] {
            #expect(try post("distributions/production/phases", release, bad).status == 400, "\(bad)")
        }
        #expect(try post("distributions/production/phases", release, #"{"package": "gull", "percentage": 5}"#).status == 404)
        #expect(try repository.packagesText("production").contains("Phased-Update-Percentage: 60\n"))

        // The lead may override: history records it, with the token's name as the user.
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "3.0-1")]).status == 0)
        let overridden = try post("promotions", lead, #"{"packages": ["tern"], "from": "staging", "overrideGates": true}"#)
        #expect(overridden.status == 200)
        let entry = try #require(try repository.history("production").first)
        #expect(entry.user == "lead")
        #expect(entry.overriddenGates == ["Approvals"])
    }
}
