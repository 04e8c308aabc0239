import DebianFormat
import DepotCore
import Foundation

/// The dashboard's pages, as plain HTML that works without script: at `/` one row per
/// package, one column per distribution in promotion order, each cell the version listed
/// there; a version newer than the next distribution's is marked, so a pending promotion
/// stands out. Signed in, the page acts: each action is a form (SPEC §15) carrying the
/// session's CSRF token and the attributes `data-action`, `data-package` and
/// `data-distribution` (the distribution the action changes).
///
/// Everything shown that came from outside (names, versions, notes, users) is escaped.
enum Dashboard {
    /// What the page knows of the repository, read once per request.
    struct Snapshot {
        var origin: String
        var distributions: [Configuration.Distribution]
        var listings: [Listing]
        var history: [HistoryEntry]
        /// The latest history entry of each distribution.
        var latest: [String: HistoryEntry]

        /// The distribution `distribution` promotes to, when the page shows it.
        func promotesTo(_ distribution: String) -> String? {
            guard let next = distributions.first(where: { $0.name == distribution })?.promotesTo,
                distributions.contains(where: { $0.name == next })
            else { return nil }
            return next
        }
    }

    /// The newest version a distribution lists of a package, with every architecture.
    struct Cell {
        var version: DebianVersion
        var text: String
        var architectures: [String]
        var phase: Int?
    }

    static func render(_ repository: Snapshot, session: DashboardSession?) -> String {
        var cells: [String: [String: Cell]] = [:]
        for listing in repository.listings {
            let file = listing.file
            var row = cells[file.name, default: [:]]
            if let current = row[listing.distribution], current.version >= file.debianVersion {
                if current.version == file.debianVersion {
                    row[listing.distribution]?.architectures.append(file.architecture)
                }
            } else {
                row[listing.distribution] = Cell(
                    version: file.debianVersion, text: file.version, architectures: [file.architecture],
                    phase: listing.phase)
            }
            cells[file.name] = row
        }
        let names = repository.distributions.map(\.name)

        var html = "<h2>Packages</h2>\n<table id=\"packages\">\n<thead><tr><th>Package</th>"
        for distribution in names { html += "<th>\(escape(distribution))</th>" }
        html += "</tr></thead>\n<tbody>\n"
        for name in cells.keys.sorted() {
            let row = cells[name]!
            html += "<tr><th scope=\"row\"><a href=\"/packages/\(escape(pathSegment(name)))\">\(escape(name))</a></th>"
            for distribution in names {
                guard let cell = row[distribution] else {
                    html += "<td class=\"absent\">–</td>"
                    continue
                }
                let next = repository.promotesTo(distribution)
                let pending = next.map { next in row[next].map { $0.version < cell.version } ?? true } ?? false
                let title = pending ? " title=\"newer than \(escape(next!)): a promotion is pending\"" : ""
                html +=
                    "<td\(pending ? " class=\"pending\"" : "")\(title)>\(escape(cell.text)) "
                    + "<span class=\"architectures\">\(escape(cell.architectures.sorted().joined(separator: " ")))</span>"
                if let phase = cell.phase {
                    html += " <span class=\"phase\">rolling out: \(phase)%</span>"
                    if let session { html += phaseForms(name, distribution, phase: phase, session) }
                }
                if pending, let next, let session {
                    html += promoteForm(name, from: distribution, to: next, session)
                    if let target = repository.distributions.first(where: { $0.name == next }), target.approvals > 0 {
                        html += approveForm(name, version: cell.text, into: next, session)
                    }
                }
                html += "</td>"
            }
            html += "</tr>\n"
        }
        if cells.isEmpty {
            html += "<tr><td colspan=\"\(names.count + 1)\">No packages yet: depot push DIST FILE.deb</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"

        html += "<h2>Distributions</h2>\n<table id=\"distributions\">\n"
        html += "<thead><tr><th>Distribution</th><th>Gates</th><th>Latest change</th></tr></thead>\n<tbody>\n"
        for distribution in repository.distributions {
            var gates: [String] = []
            if let soak = distribution.minSoak {
                gates.append("Min-Soak \(Repository.describe(seconds: soak))")
            }
            if distribution.approvals > 0 { gates.append("Approvals \(distribution.approvals)") }
            html += "<tr><th scope=\"row\">\(escape(distribution.name))</th><td>\(escape(gates.joined(separator: ", ")))</td><td>"
            if let entry = repository.latest[distribution.name] {
                html += "#\(entry.id) \(escape(entry.operation)) by \(escape(entry.user)) at \(escape(entry.date))"
                let packages = Array(Set(entry.changes.map(\.package))).sorted()
                if let session, !packages.isEmpty {
                    html += rollbackForm(packages, in: distribution.name, entry: entry.id, session)
                }
            } else {
                html += "–"
            }
            html += "</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"

        html += "<h2>Recent changes</h2>\n<table id=\"history\">\n"
        html +=
            "<thead><tr><th>#</th><th>When</th><th>What</th><th>Who</th><th>Changes</th><th>Note</th></tr></thead>\n<tbody>\n"
        for entry in repository.history {
            html +=
                "<tr><td>\(entry.id)</td><td>\(escape(entry.date))</td>"
                + "<td>\(escape(entry.operation)) \(escape(entry.distribution))\(overridden(entry))</td>"
                + "<td>\(escape(entry.user))</td>"
                + "<td>\(entry.changes.map { escape(describe($0)) }.joined(separator: "<br>"))</td>"
                + "<td>\(escape(shortened(entry.note)))</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"
        return page(title: repository.origin, heading: repository.origin, session: session, html)
    }

    /// A note as a page shows it: at most `shownNote` characters, so that pages stay small
    /// whatever notes were given (history keeps them whole).
    static func shortened(_ note: String?) -> String {
        guard let note else { return "" }
        return note.count <= shownNote ? note : note.prefix(shownNote) + "…"
    }

    static let shownNote = 500

    /// The page of one package: its versions, where each is listed (and phased), when each
    /// entered and left each distribution, by whom and why, and its approvals.
    static func packagePage(_ report: Repository.PackageReport, origin: String, session: DashboardSession?)
        -> String
    {
        var html = "<p><a href=\"/\">All packages</a></p>\n<h2>Versions</h2>\n<table id=\"versions\">\n"
        html += "<thead><tr><th>Version</th><th>Architecture</th><th>Listed in</th><th>Approvals</th></tr></thead>\n<tbody>\n"
        for version in report.versions {
            let listed = version.distributions.map { name in
                version.phases[name].map { "\(name) (rolling out: \($0)%)" } ?? name
            }
            let approvals = version.approvals.map { approval in
                "for \(approval.distribution) by \(approval.user) at \(approval.date)"
                    + (approval.note.map { ": \(shortened($0))" } ?? "")
            }
            html +=
                "<tr><td>\(escape(version.file.version))</td><td>\(escape(version.file.architecture))</td>"
                + "<td>\(escape(listed.joined(separator: ", ")))</td>"
                + "<td class=\"approvals\">\(approvals.map(escape).joined(separator: "<br>"))</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"
        for ramp in report.ramps {
            html +=
                "<p class=\"ramp\">Ramp in \(escape(ramp.distribution)): "
                + escape(ramp.steps.map { "\($0)%" }.joined(separator: ", "))
                + ", next at \(escape(ramp.next))</p>\n"
        }
        html += "<h2>History</h2>\n<table id=\"events\">\n"
        html +=
            "<thead><tr><th>#</th><th>When</th><th>Distribution</th><th>Version</th><th>What</th><th>Who</th><th>Note</th></tr></thead>\n<tbody>\n"
        for event in report.events {
            let what =
                (event.listed ? "entered" : "left") + " (\(event.operation))"
                + (event.phase.map { ", \($0)%" } ?? "")
            html +=
                "<tr><td>\(event.history)</td><td>\(escape(event.date))</td><td>\(escape(event.distribution))</td>"
                + "<td>\(escape(event.version)) \(escape(event.architecture))</td><td>\(escape(what))</td>"
                + "<td>\(escape(event.user))</td><td>\(escape(shortened(event.note)))</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"
        if report.events.count >= DashboardRoutes.packageEvents {
            html +=
                "<p>The \(DashboardRoutes.packageEvents) latest events are shown; 'depot show \(escape(report.name)) --json' "
                + "and the API have them all.</p>\n"
        }
        return page(title: "\(report.name) · \(origin)", heading: report.name, session: session, html)
    }

    /// What a promotion would change, with its gates and a form that carries it out.
    static func promotionPreview(
        _ promotion: Repository.Promotion, package: String, note: String, session: DashboardSession
    ) -> String {
        var html = "<p><a href=\"/\">Back</a></p>\n<ul id=\"changes\">\n"
        for change in promotion.changes {
            html +=
                "<li>\(escape(change.package)) (\(escape(change.architecture))): "
                + "\(escape(change.before ?? "absent")) → \(escape(change.after ?? "absent"))</li>\n"
        }
        if promotion.changes.isEmpty { html += "<li>Nothing: \(escape(promotion.to)) already lists these files.</li>\n" }
        html += "</ul>\n"
        if !promotion.gates.isEmpty {
            html += "<ul id=\"gates\">\n"
            for gate in promotion.gates {
                html += "<li class=\"\(gate.open ? "open" : "closed")\">\(escape(gate.detail))</li>\n"
            }
            html += "</ul>\n"
        }
        if promotion.closedGates.isEmpty && !promotion.changes.isEmpty {
            html += form(
                "/actions/promote", action: "promote", package: package, distribution: promotion.to, session,
                fields: ["package": package, "from": promotion.from, "to": promotion.to, "confirm": "yes"],
                note: note, button: "Promote \(package) to \(promotion.to)")
        } else if !promotion.closedGates.isEmpty {
            html += "<p class=\"refused\">A gate is closed: the promotion cannot be made yet.</p>\n"
        }
        return page(
            title: "Promote \(package)", heading: "Promote \(package) from \(promotion.from) to \(promotion.to)?",
            session: session, html)
    }

    /// A page that says one thing: the outcome of an action, or why it was refused.
    static func message(_ heading: String, _ text: String, session: DashboardSession?) -> String {
        page(
            title: heading, heading: heading, session: session,
            "<p class=\"message\">\(escape(text))</p>\n<p><a href=\"/\">Back to the dashboard</a></p>\n")
    }

    static func signInPage(problem: String? = nil, isPrivate: Bool) -> String {
        var html = ""
        if isPrivate {
            html += "<p>This dashboard is private: sign in with an API token (see <code>depot token create</code>).</p>\n"
        }
        if let problem { html += "<p class=\"refused\">\(escape(problem))</p>\n" }
        html += """
            <form method="post" action="/login" id="sign-in">
            <label>API token <input type="password" name="token" autocomplete="off" required></label>
            <button type="submit">Sign in</button>
            </form>

            """
        return page(title: "Sign in · Depot", heading: "Sign in", session: nil, html)
    }

    // MARK: - Forms

    private static func promoteForm(_ package: String, from: String, to: String, _ session: DashboardSession) -> String {
        form(
            "/actions/promote", action: "promote", package: package, distribution: to, session,
            fields: ["package": package, "from": from, "to": to], note: "", button: "Review promotion to \(to)")
    }

    private static func approveForm(_ package: String, version: String, into: String, _ session: DashboardSession)
        -> String
    {
        form(
            "/actions/approve", action: "approve", package: package, distribution: into, session,
            fields: ["package": package, "version": version, "distribution": into], note: "",
            button: "Approve \(version) for \(into)")
    }

    private static func rollbackForm(_ packages: [String], in distribution: String, entry: Int64, _ session: DashboardSession)
        -> String
    {
        form(
            "/actions/rollback", action: "rollback", package: packages.joined(separator: " "),
            distribution: distribution, session,
            fields: ["packages": packages.joined(separator: " "), "distribution": distribution], note: "",
            button: "Roll back #\(entry)")
    }

    /// Halt, widen to the next usual step, or roll out fully.
    private static func phaseForms(_ package: String, _ distribution: String, phase: Int, _ session: DashboardSession)
        -> String
    {
        var buttons: [(Int, String)] = []
        if phase > 0 { buttons.append((0, "Halt")) }
        if let next = [10, 25, 50].first(where: { $0 > phase }) { buttons.append((next, "Widen to \(next)%")) }
        buttons.append((100, "Roll out fully"))
        var html = ""
        for (percentage, label) in buttons {
            html += form(
                "/actions/phase", action: "phase", package: package, distribution: distribution, session,
                fields: ["package": package, "distribution": distribution, "percentage": String(percentage)],
                note: "", button: label)
        }
        return html
    }

    private static func form(
        _ path: String, action: String, package: String, distribution: String, _ session: DashboardSession,
        fields: [String: String], note: String?, button: String
    ) -> String {
        var html =
            "<form method=\"post\" action=\"\(path)\" class=\"action\" data-action=\"\(action)\" "
            + "data-package=\"\(escape(package))\" data-distribution=\"\(escape(distribution))\">"
            + "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(session.csrf))\">"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            html += "<input type=\"hidden\" name=\"\(name)\" value=\"\(escape(value))\">"
        }
        if let note {
            html += "<input type=\"text\" name=\"note\" placeholder=\"note\" value=\"\(escape(note))\">"
        }
        return html + "<button type=\"submit\">\(escape(button))</button></form>"
    }

    // MARK: - Pieces

    private static func page(title: String, heading: String, session: DashboardSession?, _ body: String) -> String {
        var account: String
        if let session {
            account =
                "<form method=\"post\" action=\"/logout\" id=\"sign-out\">Signed in as \(escape(session.token.name)) "
                + "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(session.csrf))\">"
                + "<button type=\"submit\">Sign out</button></form>"
        } else {
            account = "<p id=\"account\"><a href=\"/login\">Sign in</a> to act</p>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape(title)) · Depot</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin-bottom: 2em; }
            th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; vertical-align: top; }
            th { background: #f0f0f0; }
            td.pending { background: #fff3c4; font-weight: bold; }
            td.absent { color: #aaa; }
            .architectures { color: #777; font-size: 0.85em; }
            .phase { color: #a35a00; }
            form.action { font-weight: normal; margin: 0.3em 0; }
            .refused, li.closed { color: #b00020; }
            </style>
            </head>
            <body>
            \(account)
            <h1>\(escape(heading))</h1>
            \(body)</body>
            </html>

            """
    }

    private static func describe(_ change: Change) -> String {
        func state(_ version: String?, _ phase: Int?) -> String { (version ?? "–") + (phase.map { " (\($0)%)" } ?? "") }
        return "\(change.package) (\(change.architecture)) \(state(change.before, change.beforePhase)) → "
            + state(change.after, change.afterPhase)
    }

    private static func overridden(_ entry: HistoryEntry) -> String {
        guard let gates = entry.overriddenGates else { return "" }
        return "<br><span class=\"refused\">overrode \(escape(gates.joined(separator: ", ")))</span>"
    }

    /// A package name as one segment of a path: names hold letters, digits and `+-.`, of
    /// which only `+` could be read otherwise.
    private static func pathSegment(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(.init(charactersIn: "/+"))) ?? name
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
