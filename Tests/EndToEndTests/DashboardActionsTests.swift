import DepotTestSupport
import Foundation
import Testing

/// The dashboard acts (SPEC §15): signed in with an API token, a browser promotes, approves,
/// halts a rollout and is refused what its token may not do; forms without the session's CSRF
/// token change nothing.
@Suite struct DashboardActionsTests {
    /// staging lists tern 1.0-1, pending for production, which requires one approval;
    /// production lists gull 1.0-1 rolling out at 25%.
    func releaseRepository() throws -> (ScratchRepository, PackageBuilder) {
        let repository = try ScratchRepository()
        try repository.editConfiguration(
            replacing: "Distribution: production\n", with: "Distribution: production\nApprovals: 1\n")
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "staging", try packages.make("tern", "1.0-1")]).status == 0)
        try #require(
            try repository.depot(["push", "production", try packages.make("gull", "1.0-1"), "--override-gates"]).status == 0)
        try #require(try repository.depot(["phase", "production", "gull", "25"]).status == 0)
        return (repository, packages)
    }

    @Test func aBrowserSignsInPromotesApprovesHaltsAndIsRefusedWhatItsTokenLacks() throws {
        let (repository, packages) = try releaseRepository()
        defer { repository.remove() }
        _ = packages
        let release = try repository.createToken(
            "release", allowing: ["promote:staging", "promote:production", "read:*"])
        let reviewer = try repository.createToken("reviewer", allowing: ["approve:production", "read:*"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }

        let flow = try TestSupport.run(
            "python3", [TestSupport.fixture("browser/dashboard_flow.py"), server.url, release, reviewer])
        #expect(flow.status == 0, "\(flow.text)\n\(flow.standardError)")
        #expect(flow.text.hasSuffix("passed\n"), "\(flow.text)")

        // What the browser did is in the repository, by the tokens' names, with their notes.
        #expect(try listed(repository, "production") == ["tern 1.0-1 amd64", "gull 1.0-1 amd64"])
        let entries = try repository.history("production")
        let phase = try #require(entries.first)
        #expect(phase.operation == "phase" && phase.user == "release")
        #expect(phase.changes.first?.afterPhase == 0)
        let promotion = entries[1]
        #expect(promotion.operation == "promote" && promotion.user == "release")
        #expect(promotion.note == "ship it")
        // Nothing else: the refused promotion, rollback and cross-origin post changed nothing.
        #expect(entries.count == 4, "\(entries.map(\.operation))")
        let show = try repository.depot(["show", "tern", "--json"])
        let report = try JSONSerialization.jsonObject(with: show.standardOutput) as? [String: Any]
        let approvals = (report?["versions"] as? [[String: Any]])?.first?["approvals"] as? [[String: Any]] ?? []
        #expect(approvals.map { $0["user"] as? String } == ["reviewer"])
    }

    @Test func formsWithoutTheSessionsCSRFTokenOrAValidSessionChangeNothing() throws {
        let (repository, packages) = try releaseRepository()
        defer { repository.remove() }
        _ = packages
        let release = try repository.createToken("release", allowing: ["promote:production", "read:production"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        func post(_ path: String, _ form: String, cookie: String? = nil, origin: String? = nil) throws -> HTTPAnswer {
            var arguments = ["--data-binary", form]
            if let cookie { arguments += ["-b", "depot_session=\(cookie)"] }
            if let origin { arguments += ["-H", "Origin: \(origin)"] }
            return try HTTPAnswer(server.curl(path, arguments))
        }

        let signIn = try post("login", "token=\(release)")
        #expect(signIn.status == 303 && signIn.headers["location"] == "/")
        let setCookie = try #require(signIn.headers["set-cookie"])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Max-Age="))
        let cookie = String(setCookie.dropFirst("depot_session=".count).prefix { $0 != ";" })
        let page = String(decoding: try HTTPAnswer(server.curl("", ["-b", "depot_session=\(cookie)"])).body, as: UTF8.self)
        let csrf = try #require(
            page.range(of: "name=\"csrf\" value=\"").map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
        let halt = "package=gull&distribution=production&percentage=0"

        let before = try repository.snapshot()
        let refusals: [(String, HTTPAnswer, Int)] = [
            ("no CSRF token", try post("actions/phase", halt, cookie: cookie), 403),
            ("a wrong CSRF token", try post("actions/phase", halt + "&csrf=guess", cookie: cookie), 403),
            ("another origin", try post("actions/phase", halt + "&csrf=\(csrf)", cookie: cookie, origin: "http://evil.example"), 403),
            ("no session", try post("actions/phase", halt + "&csrf=\(csrf)"), 403),
            ("a forged session", try post("actions/phase", halt + "&csrf=\(csrf)", cookie: "forged"), 403),
            ("a bad percentage", try post("actions/phase", "package=gull&distribution=production&percentage=150&csrf=\(csrf)", cookie: cookie), 400),
            ("a note holding a NUL", try post("actions/phase", halt + "&csrf=\(csrf)&note=a%00b", cookie: cookie), 400),
            ("an unlisted package", try post("actions/phase", "package=tern&distribution=production&percentage=5&csrf=\(csrf)", cookie: cookie), 404),
        ]
        for (what, answer, status) in refusals {
            #expect(answer.status == status, "\(what): \(answer.status)")
            #expect(answer.headers["content-type"]?.hasPrefix("text/html") == true, "\(what)")
        }
        #expect(try repository.snapshot() == before, "a refused form changed the repository")

        // The same form with the token does what it says; after sign-out the cookie is dead.
        #expect(try post("actions/phase", halt + "&csrf=\(csrf)&note=halt+%26+look", cookie: cookie).status == 200)
        #expect(try listedPhase(repository, "gull") == 0)
        #expect(try post("logout", "csrf=\(csrf)", cookie: cookie).status == 303)
        let stale = try post("actions/phase", "package=gull&distribution=production&percentage=50&csrf=\(csrf)", cookie: cookie)
        #expect(stale.status == 403)
        #expect(try listedPhase(repository, "gull") == 0)
        #expect(try repository.history("production", limit: 1).first?.note == "halt & look")
    }

    @Test func anExpiredSessionIsNoSession() throws {
        let (repository, packages) = try releaseRepository()
        defer { repository.remove() }
        _ = packages
        try repository.editConfiguration(replacing: "Components: main", with: "Components: main\nSession-Lifetime: 4s")
        let release = try repository.createToken("release", allowing: ["promote:production", "read:production"])
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        // Long enough for a loaded machine to fetch a page within it.
        let signedIn = Date()
        let signIn = try HTTPAnswer(server.curl("login", ["--data-binary", "token=\(release)"]))
        let setCookie = try #require(signIn.headers["set-cookie"])
        #expect(setCookie.contains("Max-Age=4"), "\(setCookie)")
        let cookie = String(setCookie.dropFirst("depot_session=".count).prefix { $0 != ";" })
        let page = String(
            decoding: try HTTPAnswer(server.curl("", ["-b", "depot_session=\(cookie)"])).body, as: UTF8.self)
        let csrf = try #require(
            page.range(of: "name=\"csrf\" value=\"").map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
        usleep(UInt32(max(0, 4.5 - Date().timeIntervalSince(signedIn)) * 1_000_000))
        let before = try repository.snapshot()
        let late = try HTTPAnswer(
            server.curl(
                "actions/phase",
                ["-b", "depot_session=\(cookie)", "--data-binary",
                 "package=gull&distribution=production&percentage=0&csrf=\(csrf)"]))
        #expect(late.status == 403)
        #expect(String(decoding: late.body, as: UTF8.self).contains("Sign in first"))
        #expect(try HTTPAnswer(server.curl("", ["-b", "depot_session=\(cookie)"])).headers["location"] == "/login")
        #expect(try repository.snapshot() == before)
    }

    func listedPhase(_ repository: ScratchRepository, _ package: String) throws -> Int? {
        try repository.listings("production").first { $0.file.name == package }?.phase
    }
}
