import DepotTestSupport
import Foundation
import Testing

/// The dashboard as a browser shows it: headless Chromium loads the page from a running
/// `depot serve`, and the test reads the DOM it built and the screenshot it took.
@Suite(.enabled(if: TestSupport.hasProgram("chromium"), "needs chromium"))
struct DashboardTests {
    func chromium(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        let profile = try TestSupport.makeTemporaryDirectory("chromium")
        defer { try? FileManager.default.removeItem(at: profile) }
        return try TestSupport.run(
            "chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)"] + arguments)
    }

    @Test func theDashboardShowsEachDistributionsVersionsAndMarksPendingPromotions() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        // Shown to anyone, as without signing in.
        try repository.editConfiguration(replacing: "Components: main", with: "Components: main\nDashboard: public")
        let packages = PackageBuilder()
        let old = try packages.make("tern", "1.0-1")
        try #require(try repository.depot(["push", "development", old, "--note", "first build"]).status == 0)
        try #require(try repository.depot(["promote", "tern", "--from", "development"]).status == 0)
        try #require(try repository.depot(["promote", "tern", "--from", "staging"]).status == 0)
        try #require(
            try repository.depot(["push", "development", try packages.make("tern", "2.0-1"), "--note", "<b>CI 7</b>"])
                .status == 0)
        try #require(try repository.depot(["push", "staging", try packages.make("gull", "0.5-1")]).status == 0)
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }

        let dom = try chromium(["--dump-dom", server.url])
        #expect(dom.status == 0, "\(dom.standardError)")
        let page = dom.text
        func row(_ name: String) -> String {
            guard let start = page.range(of: "<th scope=\"row\"><a href=\"/packages/\(name)\">\(name)</a></th>")
            else { return "" }
            return String(page[start.upperBound...].prefix { $0 != "\n" })
        }
        // tern: 2.0-1 in development (newer than staging's 1.0-1: pending), 1.0-1 further on.
        let tern = row("tern")
        #expect(tern.hasPrefix("<td class=\"pending\" title=\"newer than staging"), "\(tern)")
        #expect(tern.contains("2.0-1") && tern.components(separatedBy: "1.0-1").count == 3, "\(tern)")
        // gull: absent from development, pending in staging, absent from production.
        let gull = row("gull")
        #expect(gull.hasPrefix("<td class=\"absent\">"), "\(gull)")
        #expect(gull.contains("<td class=\"pending\" title=\"newer than production"), "\(gull)")
        // History is there, its text escaped rather than interpreted.
        #expect(page.contains("&lt;b&gt;CI 7&lt;/b&gt;") && !page.contains("<b>CI 7</b>"))
        #expect(page.contains("first build"))

        let screenshot = try TestSupport.makeTemporaryDirectory("screenshot").appendingPathComponent("page.png")
        defer { try? FileManager.default.removeItem(at: screenshot.deletingLastPathComponent()) }
        let shot = try chromium(["--screenshot=\(screenshot.path)", "--window-size=1000,600", server.url])
        #expect(shot.status == 0, "\(shot.standardError)")
        let png = try Data(contentsOf: screenshot)
        // A PNG of the asked size (IHDR: width and height, big-endian, at bytes 16 and 20), and
        // not a blank page: a page of text and coloured cells compresses far less than a blank one.
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 1000 && height == 600)
        #expect(png.count > 20_000, "the screenshot looks blank (\(png.count) bytes)")
        #expect(server.logText.contains("GET / 200"))
    }
}
