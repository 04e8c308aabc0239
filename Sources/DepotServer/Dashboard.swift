import DebianFormat
import DepotCore

/// The page at `/`: one row per package, one column per distribution in promotion order, each
/// cell the version listed there; a version newer than the next distribution's is marked, so
/// a pending promotion stands out. Then the latest changes. Plain HTML, no script.
enum Dashboard {
    /// What `/` shows where depot.conf says `Dashboard: private`.
    static let privatePage = """
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Depot</title></head>
        <body>
        <h1>This dashboard is private</h1>
        <p>The repository's configuration says <code>Dashboard: private</code>. Its listings and
        history are served by the API under <code>/api/v1/</code> to a token with the scope
        <code>read:*</code>.</p>
        </body>
        </html>

        """

    static func render(
        distributions: [String], promotesTo: [String: String], listings: [Listing], history: [HistoryEntry],
        origin: String
    ) -> String {
        // The newest version of each package in each distribution, with every architecture.
        var cells: [String: [String: (version: DebianVersion, text: String, architectures: [String])]] = [:]
        for listing in listings {
            let file = listing.file
            var row = cells[file.name, default: [:]]
            if let current = row[listing.distribution] {
                if current.version == file.debianVersion {
                    row[listing.distribution]?.architectures.append(file.architecture)
                } else if current.version < file.debianVersion {
                    row[listing.distribution] = (file.debianVersion, file.version, [file.architecture])
                }
            } else {
                row[listing.distribution] = (file.debianVersion, file.version, [file.architecture])
            }
            cells[file.name] = row
        }

        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape(origin)) · Depot</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin-bottom: 2em; }
            th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
            th { background: #f0f0f0; }
            td.pending { background: #fff3c4; font-weight: bold; }
            td.absent { color: #aaa; }
            .architectures { color: #777; font-size: 0.85em; }
            </style>
            </head>
            <body>
            <h1>\(escape(origin))</h1>
            <h2>Packages</h2>
            <table id="packages">
            <thead><tr><th>Package</th>
            """
        for distribution in distributions { html += "<th>\(escape(distribution))</th>" }
        html += "</tr></thead>\n<tbody>\n"
        for name in cells.keys.sorted() {
            let row = cells[name]!
            html += "<tr><th scope=\"row\">\(escape(name))</th>"
            for distribution in distributions {
                guard let cell = row[distribution] else {
                    html += "<td class=\"absent\">–</td>"
                    continue
                }
                let next = promotesTo[distribution]
                let pending = next.map { next in row[next].map { $0.version < cell.version } ?? true } ?? false
                let title = pending ? " title=\"newer than \(escape(next!)): a promotion is pending\"" : ""
                html +=
                    "<td\(pending ? " class=\"pending\"" : "")\(title)>\(escape(cell.text)) "
                    + "<span class=\"architectures\">\(escape(cell.architectures.sorted().joined(separator: " ")))</span></td>"
            }
            html += "</tr>\n"
        }
        if cells.isEmpty {
            html +=
                "<tr><td colspan=\"\(distributions.count + 1)\">No packages yet: depot push DIST FILE.deb</td></tr>\n"
        }
        html += "</tbody>\n</table>\n<h2>Recent changes</h2>\n<table id=\"history\">\n"
        html +=
            "<thead><tr><th>#</th><th>When</th><th>What</th><th>Who</th><th>Changes</th><th>Note</th></tr></thead>\n<tbody>\n"
        for entry in history {
            let changes = entry.changes.map { change in
                "\(change.package) (\(change.architecture)) \(change.before ?? "–") → \(change.after ?? "–")"
            }
            html +=
                "<tr><td>\(entry.id)</td><td>\(escape(entry.date))</td>"
                + "<td>\(escape(entry.operation)) \(escape(entry.distribution))</td><td>\(escape(entry.user))</td>"
                + "<td>\(changes.map(escape).joined(separator: "<br>"))</td><td>\(escape(entry.note ?? ""))</td></tr>\n"
        }
        html += "</tbody>\n</table>\n</body>\n</html>\n"
        return html
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
