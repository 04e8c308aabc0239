import DepotCore
import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The dashboard's pages and forms (SPEC §15): sign-in with an API token, a session cookie,
/// and actions posted as plain HTML forms, each refused unless it carries the session's CSRF
/// token and the session's token has the scope the action needs.
struct DashboardRoutes: Sendable {
    let repository: Repository
    let connections: ConnectionTracker
    let signIns = SignInLimiter()

    static let cookieName = "depot_session"
    /// The largest form a page posts (a note is the longest field).
    private static let maximumFormSize = 64 << 10

    func register(on router: Router<DepotRequestContext>) {
        router.get("/") { request, _ in try await logged { try await home(request) } }
        router.head("/") { request, _ in try await logged { try await home(request).withoutBody() } }
        router.get("login") { _, _ in html(Dashboard.signInPage(isPrivate: !isPublic)) }
        router.post("login") { request, context in try await logged { try await signIn(request, context) } }
        router.post("logout") { request, _ in try await logged { try await signOut(request) } }
        router.get("packages/:name") { request, context in try await logged { try await package(request, context) } }
        for (path, action) in [
            ("promote", promote), ("approve", approve), ("rollback", rollback), ("phase", phase),
        ] as [(String, @Sendable (Action) throws -> String)] {
            router.post(RouterPath("actions/\(path)")) { request, context in
                try await logged { try await act(request, context, action) }
            }
        }
    }

    /// The library's failures as the API reports them (a store that cannot be read is a 500
    /// whose cause the log tells).
    private func logged(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as DepotError {
            throw APIError(error)
        }
    }

    private var isPublic: Bool { repository.configuration.dashboard == .public }

    // MARK: - Pages

    private func home(_ request: Request) async throws -> Response {
        let session = try await currentSession(request)
        guard isPublic || session != nil else { return redirect(to: "/login") }
        let mayRead = Self.readable(by: session)
        let snapshot = try await blocking { [repository] in
            let configuration = repository.configuration
            let distributions = try repository.distributions().filter { mayRead($0.name) }
            var latest: [String: HistoryEntry] = [:]
            var history: [HistoryEntry] = []
            for distribution in distributions {
                let entries = try repository.history(distribution: distribution.name, limit: Self.recentEntries)
                latest[distribution.name] = entries.first
                history += entries
            }
            return Dashboard.Snapshot(
                origin: configuration.origin, distributions: distributions,
                listings: try repository.list().filter { mayRead($0.distribution) },
                history: Array(history.sorted { $0.id > $1.id }.prefix(Self.recentEntries)), latest: latest)
        }
        return html(Dashboard.render(snapshot, session: session))
    }

    /// The history entries the home page shows.
    private static let recentEntries = 20

    /// The events a package page shows, newest first: a package changed every hour for years
    /// still has a page of bounded size (the API and `depot show` have them all).
    static let packageEvents = 200

    /// Whether the dashboard shows a distribution: a signed-in user sees only what the token
    /// may read (`read:{dist}`), as the API would answer it; a public dashboard shows a
    /// browser that is not signed in everything.
    private static func readable(by session: DashboardSession?) -> @Sendable (String) -> Bool {
        guard let token = session?.token else { return { _ in true } }
        return { token.allows(.read, on: $0) }
    }

    private func package(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let session = try await currentSession(request)
        guard isPublic || session != nil else { return redirect(to: "/login") }
        let name = try context.parameters.require("name")
        let mayRead = Self.readable(by: session)
        let unknown = html(
            Dashboard.message("Unknown package", "No distribution you may read lists a package named \(name).", session: session),
            status: .notFound)
        do {
            var report = try await blocking { [repository] in try repository.show(package: name) }
            report.events = Array(report.events.filter { mayRead($0.distribution) }.prefix(Self.packageEvents))
            report.ramps = report.ramps.filter { mayRead($0.distribution) }
            report.versions = report.versions.compactMap { version in
                var version = version
                version.distributions = version.distributions.filter(mayRead)
                version.phases = version.phases.filter { mayRead($0.key) }
                version.approvals = version.approvals.filter { mayRead($0.distribution) }
                return version.distributions.isEmpty && !report.events.contains { $0.version == version.file.version }
                    ? nil : version
            }
            guard !report.versions.isEmpty || !report.events.isEmpty else { return unknown }
            return html(Dashboard.packagePage(report, origin: repository.configuration.origin, session: session))
        } catch DepotError.unknownPackage {
            return unknown
        }
    }

    // MARK: - Signing in and out

    private func signIn(_ request: Request, _ context: DepotRequestContext) async throws -> Response {
        let form = try await formFields(request)
        guard isSameOrigin(request) else { return refusal("The form came from another site.", session: nil) }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if let wait = signIns.wait(for: address) {
            var response = html(
                Dashboard.signInPage(
                    problem: "Too many failed sign-ins from this address: try again in \(wait) s.", isPrivate: !isPublic),
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(wait)
            return response
        }
        guard let token = form["token"]?.trimmingCharacters(in: .whitespaces), !token.isEmpty,
            let cookie = try await blocking({ [repository] in try repository.signIn(token: token) })
        else {
            signIns.recordFailure(of: address)
            return html(
                Dashboard.signInPage(problem: "Unknown or revoked token.", isPrivate: !isPublic), status: .unauthorized)
        }
        var headers = HTTPFields()
        headers[.location] = "/"
        headers[.setCookie] =
            "\(Self.cookieName)=\(cookie); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(repository.configuration.sessionLifetime)"
            + (isHTTPS(request) ? "; Secure" : "")
        return Response(status: .seeOther, headers: headers)
    }

    private func signOut(_ request: Request) async throws -> Response {
        let form = try await formFields(request)
        guard let (cookie, session) = try await cookieAndSession(request), isSameOrigin(request),
            form["csrf"] == session.csrf
        else {
            return refusal("Sign out needs the form of a signed-in page.", session: nil)
        }
        try await blocking { [repository] in try repository.signOut(cookie: cookie) }
        var headers = HTTPFields()
        headers[.location] = "/login"
        headers[.setCookie] = "\(Self.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return Response(status: .seeOther, headers: headers)
    }

    // MARK: - Actions

    /// What an action needs: the signed-in session, its form, and a context for history.
    private struct Action {
        var session: DashboardSession
        var form: [String: String]
        var context: OperationContext

        func field(_ name: String) throws -> String {
            guard let value = form[name], !value.isEmpty else {
                throw DashboardRefusal(status: .badRequest, "The form lacks its field '\(name)'.")
            }
            return value
        }

        /// Refused unless the session's token may do `action` on `distribution`.
        func require(_ action: Scope.Action, on distribution: String) throws {
            guard session.token.allows(action, on: distribution) else {
                throw DashboardRefusal(
                    status: .forbidden,
                    "Your token '\(session.token.name)' lacks the scope \(action.rawValue):\(distribution), "
                        + "so it may not \(action.rawValue) in \(distribution).")
            }
        }
    }

    private struct DashboardRefusal: Error {
        var status: HTTPResponse.Status
        var text: String
        init(status: HTTPResponse.Status, _ text: String) {
            self.status = status
            self.text = text
        }
    }

    /// Checks the session and CSRF token, then runs `body`; a refusal or a failed operation
    /// becomes a page that says why, with nothing changed.
    private func act(
        _ request: Request, _ context: DepotRequestContext,
        _ body: @escaping @Sendable (Action) throws -> String
    ) async throws -> Response {
        let form = try await formFields(request)
        guard let (_, session) = try await cookieAndSession(request) else {
            return refusal("Sign in first: this action needs a signed-in session.", session: nil)
        }
        guard isSameOrigin(request), let csrf = form["csrf"], csrf == session.csrf else {
            return refusal("The form did not carry this session's CSRF token; nothing was changed.", session: session)
        }
        let channel = context.channel
        do {
            var operation = try OperationContext(
                user: session.token.name, command: "dashboard \(request.uri.path)",
                note: form["note"].flatMap { $0.isEmpty ? nil : $0 })
            operation.isCancelled = { [connections] in connections.isClientGone(channel) }
            let action = Action(session: session, form: form, context: operation)
            return html(try await blocking { try body(action) })
        } catch let refusal as DashboardRefusal {
            return html(Dashboard.message("Refused", refusal.text, session: session), status: refusal.status)
        } catch let error as DepotError {
            let status = APIError(error).status
            return html(
                Dashboard.message("Not done", "\(error)", session: session),
                status: status == .internalServerError ? .conflict : status)
        }
    }

    private func promote(_ action: Action) throws -> String {
        let package = try action.field("package")
        let from = try action.field("from")
        let to = try action.field("to")
        try action.require(.promote, on: to)
        let confirmed = action.form["confirm"] == "yes"
        let promotion = try repository.promote(
            PromotionRequest(packages: [package], from: from, to: to, dryRun: !confirmed), context: action.context)
        guard confirmed else {
            return Dashboard.promotionPreview(
                promotion, package: package, note: action.form["note"] ?? "", session: action.session)
        }
        let changes = promotion.changes.map { "\($0.package) \($0.after ?? "") (\($0.architecture))" }
        return Dashboard.message(
            "Promoted", "Promoted \(changes.joined(separator: ", ")) from \(from) to \(to).", session: action.session)
    }

    private func approve(_ action: Action) throws -> String {
        let package = try action.field("package")
        let version = try action.field("version")
        let distribution = try action.field("distribution")
        try action.require(.approve, on: distribution)
        let approvals = try repository.approve(
            ApprovalRequest(distribution: distribution, package: package, version: version), context: action.context)
        return Dashboard.message(
            "Approved",
            "\(action.session.token.name) approved \(package) \(version) for \(distribution) "
                + "(\(approvals.map(\.architecture).joined(separator: ", "))).",
            session: action.session)
    }

    private func rollback(_ action: Action) throws -> String {
        let distribution = try action.field("distribution")
        let packages = try action.field("packages").split(separator: " ").map(String.init)
        try action.require(.rollback, on: distribution)
        let rollback = try repository.rollback(
            RollbackRequest(distribution: distribution, packages: packages), context: action.context)
        let changes = rollback.changes.map { "\($0.package) (\($0.architecture)): \($0.before ?? "absent") → \($0.after ?? "absent")" }
        return Dashboard.message(
            "Rolled back", "In \(distribution): " + changes.joined(separator: "; ") + ".", session: action.session)
    }

    private func phase(_ action: Action) throws -> String {
        let package = try action.field("package")
        let distribution = try action.field("distribution")
        guard let percentage = Int(try action.field("percentage")) else {
            throw DashboardRefusal(status: .badRequest, "The percentage must be a whole number from 0 to 100.")
        }
        try action.require(.promote, on: distribution)
        let change = try repository.phase(
            PhaseRequest(distribution: distribution, package: package, percentage: percentage), context: action.context)
        return Dashboard.message(
            "Phase changed",
            "\(package) \(change.version) in \(distribution): \(change.before)% → \(change.after)%.",
            session: action.session)
    }

    // MARK: - Helpers

    private func currentSession(_ request: Request) async throws -> DashboardSession? {
        try await cookieAndSession(request)?.1
    }

    private func cookieAndSession(_ request: Request) async throws -> (String, DashboardSession)? {
        guard let cookie = Self.cookie(request) else { return nil }
        guard let session = try await blocking({ [repository] in try repository.session(cookie: cookie) }) else {
            return nil
        }
        return (cookie, session)
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2 && parts[0] == cookieName { return String(parts[1]) }
            }
        }
        return nil
    }

    /// A browser names the page a form came from in `Origin`; one from another site is
    /// refused even before its CSRF token is looked at. Clients that send no `Origin` rely
    /// on the CSRF token alone.
    private func isSameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    private func isHTTPS(_ request: Request) -> Bool {
        request.headers[HTTPField.Name("X-Forwarded-Proto")!] == "https"
    }

    private func formFields(_ request: Request) async throws -> [String: String] {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maximumFormSize)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "too-large", "the form is larger than \(Self.maximumFormSize >> 10) KiB")
        } catch {
            throw APIError.clientClosedRequest
        }
        return Self.decodeForm(String(buffer: body))
    }

    /// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte; the first of a
    /// name given twice counts.
    static func decodeForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let name = decoded(parts[0])
            if fields[name] == nil { fields[name] = parts.count == 2 ? decoded(parts[1]) : "" }
        }
        return fields
    }

    private func refusal(_ text: String, session: DashboardSession?) -> Response {
        html(Dashboard.message("Refused", text, session: session), status: .forbidden)
    }

    private func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    private func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        // Pages show what a session may do: never kept by a cache, never framed by another site.
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    /// Runs blocking library work on a Dispatch thread; a failure other than the library's
    /// own becomes a 500 whose cause the server's log tells.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await onDispatchThread {
            do {
                return try body()
            } catch let error as DepotError {
                throw error
            } catch let refusal as DashboardRefusal {
                throw refusal
            } catch {
                throw APIError.internalFailure(error)
            }
        }
    }
}

extension Response {
    /// The same answer to a `HEAD`.
    fileprivate func withoutBody() -> Response {
        Response(status: status, headers: headers)
    }
}
