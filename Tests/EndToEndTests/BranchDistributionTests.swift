import DepotCore
import DepotTestSupport
import Foundation
import Testing

/// Short-lived distributions made from a template (`Distribution: pr-*`): made by the first
/// push (CLI or API), installed from with the real apt-get, promoted like any other, shown on
/// the dashboard, and expired by gc once unchanged for `Expires-After`.
@Suite(.enabled(if: TestSupport.hasProgram("apt-get"), "needs apt-get"))
struct BranchDistributionTests {
    @Test func aPushMakesABranchThatAptInstallsFromAndGcExpires() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        try repository.editConfiguration(replacing: "Components: main", with: "Components: main\nDashboard: public")
        try repository.addToConfiguration("Distribution: pr-*\nPromotes-To: staging\nExpires-After: 4s\n")
        let packages = PackageBuilder()
        let heron = try packages.make("heron", "1.0-1")

        // A name no template matches is refused as before; a name the template makes but the
        // naming rules refuse, too.
        let stray = try repository.depot(["push", "feature-7", heron])
        #expect(stray.status != 0 && stray.standardError.contains("unknown distribution 'feature-7'"))
        let badName = try repository.depot(["push", "pr-Seven", heron])
        #expect(badName.status != 0 && badName.standardError.contains("invalid distribution name 'pr-Seven'"))
        #expect(!FileManager.default.fileExists(atPath: repository.publicDirectory + "/dists/pr-Seven"))
        #expect(try repository.history().isEmpty)

        let pushed = try repository.depot(["push", "pr-7", heron, "--note", "branch pr-7"])
        #expect(pushed.status == 0, "\(pushed.standardError)")
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let apt = try repository.aptClient("pr-7", at: server.url)
        defer { apt.remove() }
        let update = try apt.run(["update"])
        #expect(update.status == 0 && !update.standardError.contains("W:"), "\(update.standardError)")
        let install = try apt.run(["install", "--download-only", "-y", "heron"])
        #expect(install.status == 0, "\(install.standardError)")

        // Through the API, with a token allowed to push into any branch.
        let token = try repository.createToken("ci", allowing: ["push:pr-*"])
        let upload = try server.curl(
            "api/v1/distributions/pr-8/packages",
            ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + (try packages.make("egret", "1.0-1"))])
        #expect(upload.text.hasPrefix("HTTP/1.1 201"), "\(upload.text)")
        let elsewhere = try server.curl(
            "api/v1/distributions/development/packages",
            ["-H", "Authorization: Bearer \(token)", "--data-binary", "@" + (try packages.make("egret", "1.0-1"))])
        #expect(elsewhere.text.hasPrefix("HTTP/1.1 403"), "\(elsewhere.text)")

        // Promotable like any other, along the template's Promotes-To.
        let promoted = try repository.depot(["promote", "heron", "--from", "pr-7"])
        #expect(promoted.status == 0, "\(promoted.standardError)")
        #expect(try listed(repository, "staging") == ["heron 1.0-1 amd64"])
        // Shown on the dashboard while they live.
        let page = try server.curl("")
        #expect(page.text.contains("pr-7") && page.text.contains("pr-8"))

        // Unchanged for Expires-After: gc takes them out; history stays, the pool files follow
        // the usual rules (heron is listed in staging; egret in nothing any more).
        usleep(4_500_000)
        let collected = try repository.depot(["gc", "--json"])
        #expect(collected.status == 0, "\(collected.standardError)")
        let report = try JSONDecoder().decode(Repository.GarbageCollectionReport.self, from: collected.standardOutput)
        #expect(report.expired.sorted() == ["pr-7", "pr-8"])
        #expect(report.unreferenced.map { ($0 as NSString).lastPathComponent } == ["egret_1.0-1_amd64.deb"])
        #expect(!FileManager.default.fileExists(atPath: repository.publicDirectory + "/dists/pr-7"))
        #expect(!FileManager.default.fileExists(atPath: repository.publicDirectory + "/dists/.generations/pr-7"))
        #expect(try listed(repository, "staging") == ["heron 1.0-1 amd64"])
        let afterwards = try apt.run(["update"])
        #expect(afterwards.status != 0 || afterwards.standardError.contains("404"), "\(afterwards.standardError)")
        #expect(try repository.history("pr-7").map(\.operation) == ["expire", "push"])
        #expect(try repository.depot(["list", "pr-7"]).status != 0)
        #expect(!(try server.curl("").text.contains("pr-7")))
        let verified = try repository.depot(["verify"])
        #expect(verified.status == 0, "\(verified.text)")

        // A later push makes it anew.
        #expect(try repository.depot(["push", "pr-7", try packages.make("heron", "1.1-1")]).status == 0)
        #expect(try listed(repository, "pr-7") == ["heron 1.1-1 amd64"])
    }
}
