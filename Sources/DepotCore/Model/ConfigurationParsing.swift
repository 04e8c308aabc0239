import DebianFormat

extension Configuration {
    /// Reads `depot.conf`; every mistake is reported with its line number.
    public init(parsing text: String) throws(ConfigurationError) {
        let document: Deb822Document
        do {
            document = try Deb822Document(parsing: text, allowComments: true)
        } catch {
            throw ConfigurationError(line: error.line, problem: error.problemDescription)
        }
        let lines = LineLocator(document: document)
        guard let repository = document.paragraphs.first else {
            throw ConfigurationError(
                line: 1,
                problem: "the file is empty: it needs a repository stanza (Origin, Label, Architectures, Components)")
        }
        if repository["Distribution"] != nil {
            throw ConfigurationError(
                line: lines.line(of: "Distribution", in: 0),
                problem: "the first stanza describes the repository (Origin, Label, ...); distributions follow it")
        }
        try Self.checkFields(repository, allowed: Self.repositoryFields, paragraph: 0, lines: lines)
        for (position, paragraph) in document.paragraphs.enumerated() {
            for name in Self.singleLineFields {
                if let value = paragraph[name], let problem = Self.singleLineProblem(value, field: name) {
                    throw ConfigurationError(line: lines.line(of: name, in: position), problem: problem)
                }
            }
        }
        origin = repository["Origin"] ?? "Depot"
        label = repository["Label"] ?? origin
        architectures = try Self.words(repository, "Architectures", paragraph: 0, lines: lines, required: true)
        for architecture in architectures {
            do {
                try Architecture.validate(architecture)
                guard architecture != "all" else {
                    throw InvalidFieldValue(
                        kind: "architecture", value: "all",
                        reason: "'all' packages go into every architecture; list real ones")
                }
                guard architecture != "source" else {
                    throw InvalidFieldValue(
                        kind: "architecture", value: "source",
                        reason: "'source' names a distribution's source indices, not an architecture of binaries")
                }
            } catch {
                throw ConfigurationError(line: lines.line(of: "Architectures", in: 0), problem: "\(error)")
            }
        }
        components = try Self.words(repository, "Components", paragraph: 0, lines: lines, required: false)
        if components.isEmpty { components = ["main"] }
        for component in components where !Self.isSafeName(component) {
            throw ConfigurationError(
                line: lines.line(of: "Components", in: 0),
                problem: "invalid component '\(component)': use lower case letters, digits, '-' and '.'")
        }
        signWith = repository["Sign-With"]
        if let access = repository["Dashboard"] {
            guard let value = DashboardAccess(rawValue: access) else {
                throw ConfigurationError(
                    line: lines.line(of: "Dashboard", in: 0),
                    problem: "Dashboard must be 'public' or 'private', not '\(access)'")
            }
            dashboard = value
        }
        if let lifetime = repository["Session-Lifetime"] {
            guard let seconds = Self.duration(lifetime) else {
                throw ConfigurationError(
                    line: lines.line(of: "Session-Lifetime", in: 0),
                    problem: "Session-Lifetime must be a duration such as '8h', '30m' or '1d', \(Self.durationLimit), not '\(lifetime)'")
            }
            sessionLifetime = seconds
        }
        retainHistory =
            try Self.count(repository, "Retain-History", paragraph: 0, lines: lines) ?? Self.defaultRetainHistory
        objectStorage = try Self.objectStorage(repository, lines: lines)
        if let store = repository["Store"] {
            guard store.hasPrefix("postgresql://") || store.hasPrefix("postgres://"), !store.contains(where: \.isNewline)
            else {
                throw ConfigurationError(
                    line: lines.line(of: "Store", in: 0),
                    problem: "Store must be 'postgresql://USER@HOST:PORT/DATABASE' (or absent, for SQLite in .depot/), not '\(PostgresAddress.withoutPassword(store))'")
            }
            self.store = store
        }

        var distributions: [Distribution] = []
        var distributionPositions: [Int] = []
        var templates: [Distribution] = []
        var templatePositions: [Int] = []
        var webhooks: [Webhook] = []
        for (position, paragraph) in document.paragraphs.enumerated().dropFirst() {
            if paragraph["Webhook"] != nil {
                let webhook = try Self.webhook(paragraph, paragraph: position, lines: lines)
                guard !webhooks.contains(where: { $0.url == webhook.url }) else {
                    throw ConfigurationError(
                        line: lines.line(of: "Webhook", in: position),
                        problem: "the webhook '\(webhook.url)' is defined twice: list its events in one stanza")
                }
                webhooks.append(webhook)
                continue
            }
            try Self.checkFields(paragraph, allowed: Self.distributionFields, paragraph: position, lines: lines)
            guard let name = paragraph["Distribution"] else {
                throw ConfigurationError(
                    line: lines.firstLine(of: position), problem: "a distribution stanza needs a 'Distribution' field")
            }
            let isTemplate = name.hasSuffix("*")
            guard Self.isSafeName(isTemplate ? String(name.dropLast()) : name) else {
                throw ConfigurationError(
                    line: lines.line(of: "Distribution", in: position),
                    problem: isTemplate
                        ? "invalid template '\(name)': a name of lower case letters, digits, '-' and '.', then one '*' at its end"
                        : "invalid distribution name '\(name)': use lower case letters, digits, '-' and '.'")
            }
            if distributions.contains(where: { $0.name == name }) || templates.contains(where: { $0.name == name }) {
                throw ConfigurationError(
                    line: lines.line(of: "Distribution", in: position),
                    problem: "distribution '\(name)' is defined twice")
            }
            var distribution = Distribution(
                name: name, promotesTo: paragraph["Promotes-To"],
                keepVersions: try Self.count(paragraph, "Keep-Versions", paragraph: position, lines: lines) ?? 1,
                retainHistory: try Self.count(paragraph, "Retain-History", paragraph: position, lines: lines)
                    ?? retainHistory,
                description: paragraph["Description"])
            if let valid = paragraph["Valid-For"] {
                guard let seconds = Self.duration(valid) else {
                    throw ConfigurationError(
                        line: lines.line(of: "Valid-For", in: position),
                        problem: "Valid-For must be a duration such as '7d', '12h' or '3600' (seconds), \(Self.durationLimit), not '\(valid)'")
                }
                distribution.validFor = seconds
            }
            if let soak = paragraph["Min-Soak"] {
                guard let seconds = soak == "0" ? 0 : Self.duration(soak) else {
                    throw ConfigurationError(
                        line: lines.line(of: "Min-Soak", in: position),
                        problem: "Min-Soak must be a duration such as '24h', '2d' or '0', \(Self.durationLimit), not '\(soak)'")
                }
                distribution.minSoak = seconds == 0 ? nil : seconds
            }
            if let approvals = paragraph["Approvals"] {
                guard let count = Int(approvals), (0...Self.largestCount).contains(count) else {
                    throw ConfigurationError(
                        line: lines.line(of: "Approvals", in: position),
                        problem: "Approvals must be a whole number from 0 to \(Self.largestCount), not '\(approvals.prefix(64))'")
                }
                distribution.approvals = count
            }
            if let expires = paragraph["Expires-After"] {
                guard isTemplate else {
                    throw ConfigurationError(
                        line: lines.line(of: "Expires-After", in: position),
                        problem: "Expires-After applies to a template (a name ending in '*', such as 'pr-*'), not to '\(name)'")
                }
                guard let seconds = Self.duration(expires) else {
                    throw ConfigurationError(
                        line: lines.line(of: "Expires-After", in: position),
                        problem: "Expires-After must be a duration such as '7d', '12h' or '3600' (seconds), \(Self.durationLimit), not '\(expires.prefix(64))'")
                }
                distribution.expiresAfter = seconds
            }
            if isTemplate {
                templates.append(distribution)
                templatePositions.append(position)
            } else {
                distributions.append(distribution)
                distributionPositions.append(position)
            }
        }
        guard !distributions.isEmpty else {
            throw ConfigurationError(
                line: lines.lastLine, problem: "no distributions: add a stanza with 'Distribution: NAME'")
        }
        let positions = distributionPositions + templatePositions
        for (index, distribution) in (distributions + templates).enumerated() {
            if let target = distribution.promotesTo, !distributions.contains(where: { $0.name == target }) {
                throw ConfigurationError(
                    line: lines.line(of: "Promotes-To", in: positions[index]),
                    problem: target.hasSuffix("*")
                        ? "Promotes-To names the template '\(target)': promote into a distribution of this file"
                        : "Promotes-To names '\(target)', which is not a distribution of this file")
            }
        }
        // Each name belongs to one stanza: a template must not make a name depot.conf defines,
        // nor one another template makes.
        for (index, template) in templates.enumerated() {
            let line = lines.line(of: "Distribution", in: templatePositions[index])
            if let taken = distributions.first(where: { Self.template(template.name, matches: $0.name) }) {
                throw ConfigurationError(
                    line: line,
                    problem: "the template '\(template.name)' would match the distribution '\(taken.name)': give the template a prefix no distribution starts with")
            }
            if let other = templates.first(where: {
                $0.name != template.name && $0.name.dropLast().hasPrefix(template.name.dropLast())
            }) {
                throw ConfigurationError(
                    line: line,
                    problem: "the templates '\(template.name)' and '\(other.name)' would both match names starting with '\(other.name.dropLast())'")
            }
        }
        self.distributions = distributions
        self.templates = templates
        self.webhooks = webhooks
    }

    /// The repository stanza's object storage fields; nil without `Storage`.
    private static func objectStorage(_ paragraph: Deb822Paragraph, lines: LineLocator) throws(ConfigurationError)
        -> ObjectStorageConfiguration?
    {
        func fail(_ field: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(line: lines.line(of: field, in: 0), problem: problem)
        }
        let dependent = ["S3-Endpoint", "S3-Region", "S3-Addressing", "S3-ACL", "Public-URL", "GC-Grace"]
        guard let storage = paragraph["Storage"] else {
            if let field = dependent.first(where: { paragraph[$0] != nil }) {
                throw fail(field, "\(field) applies to a bucket: set Storage: s3://BUCKET/PREFIX too, or remove it")
            }
            return nil
        }
        let location: (bucket: String, prefix: String)
        switch ObjectStorageConfiguration.parseStorage(storage) {
        case .success(let parsed): location = parsed
        case .failure(let error): throw fail("Storage", error.problem)
        }
        var configuration = ObjectStorageConfiguration(bucket: location.bucket, prefix: location.prefix)
        if let endpoint = paragraph["S3-Endpoint"] {
            guard ObjectStorageConfiguration.isHTTPURL(endpoint), !endpoint.dropFirst(8).contains("/") else {
                throw fail("S3-Endpoint", "S3-Endpoint must be 'http://HOST[:PORT]' or 'https://HOST[:PORT]', not '\(endpoint)'")
            }
            configuration.endpoint = endpoint
        }
        if let region = paragraph["S3-Region"] {
            guard !region.isEmpty,
                region.utf8.allSatisfy({ isASCIIDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "-") })
            else {
                throw fail("S3-Region", "S3-Region must be a region name such as 'eu-central-1', not '\(region)'")
            }
            configuration.region = region
        }
        if let addressing = paragraph["S3-Addressing"] {
            guard let value = ObjectStorageConfiguration.Addressing(rawValue: addressing) else {
                throw fail("S3-Addressing", "S3-Addressing must be 'path' or 'virtual', not '\(addressing)'")
            }
            configuration.addressing = value
        }
        if let acl = paragraph["S3-ACL"] {
            guard ObjectStorageConfiguration.cannedACLs.contains(acl) else {
                throw fail(
                    "S3-ACL",
                    "S3-ACL must be a canned ACL (\(ObjectStorageConfiguration.cannedACLs.sorted().joined(separator: ", "))), not '\(acl)'")
            }
            configuration.acl = acl
        }
        if let url = paragraph["Public-URL"] {
            guard ObjectStorageConfiguration.isHTTPURL(url), !url.contains("?"), !url.contains("#") else {
                throw fail("Public-URL", "Public-URL must be an http or https URL such as 'https://apt.example.com/depot', not '\(url)'")
            }
            configuration.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let grace = paragraph["GC-Grace"] {
            guard let seconds = grace == "0" ? 0 : Self.duration(grace) else {
                throw fail("GC-Grace", "GC-Grace must be a duration such as '24h', '2d' or '0', \(Self.durationLimit), not '\(grace)'")
            }
            configuration.gcGrace = seconds
        }
        return configuration
    }

    /// A `Webhook:` stanza.
    private static func webhook(_ paragraph: Deb822Paragraph, paragraph position: Int, lines: LineLocator)
        throws(ConfigurationError) -> Webhook
    {
        func fail(_ field: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(line: lines.line(of: field, in: position), problem: problem)
        }
        if paragraph["Distribution"] != nil {
            throw fail("Distribution", "a stanza is a distribution or a webhook, not both: split it in two")
        }
        try checkFields(paragraph, allowed: webhookFields, paragraph: position, lines: lines, kind: "webhook")
        let url = paragraph["Webhook"] ?? ""
        guard ObjectStorageConfiguration.isHTTPURL(url), !url.contains(where: { $0.isWhitespace || $0.isNewline }),
            url.utf8.count <= 2048
        else {
            throw fail("Webhook", "Webhook must be an http or https URL such as 'https://ci.example/depot-events', not '\(url.prefix(200))'")
        }
        var webhook = Webhook(url: url)
        if paragraph["Events"] != nil {
            let names = try words(paragraph, "Events", paragraph: position, lines: lines, required: true)
            var events = Set<Webhook.Event>()
            for name in names {
                guard let event = Webhook.Event(rawValue: name) else {
                    throw fail(
                        "Events",
                        "unknown event '\(name.prefix(64))' in Events (known: \(Webhook.Event.allCases.map(\.rawValue).joined(separator: " ")))")
                }
                events.insert(event)
            }
            webhook.events = events
        }
        if let secretFile = paragraph["Secret-File"] {
            guard !secretFile.isEmpty, !secretFile.contains(where: \.isNewline), !secretFile.utf8.contains(0) else {
                throw fail("Secret-File", "Secret-File must be the path of a file holding the secret, one line")
            }
            webhook.secretFile = secretFile
        }
        if let format = paragraph["Format"] {
            guard let value = Webhook.Format(rawValue: format) else {
                throw fail("Format", "Format must be 'json' or 'slack', not '\(format.prefix(64))'")
            }
            webhook.format = value
        }
        return webhook
    }

    /// Fields copied into `Release`, where each is one line.
    static let singleLineFields = ["Origin", "Label", "Description", "Sign-With"]

    /// Why `value` cannot be the one-line field `field`, or nil when it can.
    public static func singleLineProblem(_ value: String, field: String) -> String? {
        value.contains(where: \.isNewline)
            ? "\(field) must be one line of text (it is copied into every Release file)" : nil
    }

    /// Names that become path components: never `..`, `/` or hidden.
    static func isSafeName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLowerAlphanumeric(first) else { return false }
        return name.utf8.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
            && !name.contains("..")
    }

    private static func checkFields(
        _ paragraph: Deb822Paragraph, allowed: Set<String>, paragraph position: Int, lines: LineLocator,
        kind: String? = nil
    ) throws(ConfigurationError) {
        for field in paragraph.fields where !allowed.contains(field.name.lowercased()) {
            let kind = kind ?? (position == 0 ? "repository" : "distribution")
            throw ConfigurationError(
                line: lines.line(of: field.name, in: position),
                problem:
                    "unknown field '\(field.name)' in a \(kind) stanza (known: \(allowed.sorted().joined(separator: ", ")))"
            )
        }
    }

    private static func words(
        _ paragraph: Deb822Paragraph, _ name: String, paragraph position: Int, lines: LineLocator, required: Bool
    ) throws(ConfigurationError) -> [String] {
        let words = (paragraph[name] ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "\t" }
        ).map(String.init)
        if required && words.isEmpty {
            let line = paragraph[name] == nil ? lines.firstLine(of: position) : lines.line(of: name, in: position)
            throw ConfigurationError(line: line, problem: "'\(name)' must list at least one value")
        }
        var seen = Set<String>()
        if let repeated = words.first(where: { !seen.insert($0).inserted }) {
            throw ConfigurationError(
                line: lines.line(of: name, in: position), problem: "'\(repeated)' is listed twice in \(name)")
        }
        return words
    }

    /// A field holding a whole number of at least 1, when present.
    private static func count(
        _ paragraph: Deb822Paragraph, _ name: String, paragraph position: Int, lines: LineLocator
    ) throws(ConfigurationError) -> Int? {
        guard let text = paragraph[name] else { return nil }
        guard let value = Int(text), (1...largestCount).contains(value) else {
            throw ConfigurationError(
                line: lines.line(of: name, in: position),
                problem: "\(name) must be a whole number from 1 to \(largestCount), not '\(text.prefix(64))'")
        }
        return value
    }
}

/// Finds the line of a field in the parsed text, for error messages.
struct LineLocator {
    /// For each paragraph: its first line, and each field's line by lower-cased name.
    var paragraphs: [(first: Int, fields: [String: Int])] = []
    var lastLine: Int

    init(document: Deb822Document) {
        var line = 1
        for paragraph in document.paragraphs {
            line += paragraph.leadingTrivia.count(of: "\n")
            let first = line
            var fields: [String: Int] = [:]
            for field in paragraph.fields {
                line += field.leadingComments.count(of: "\n")
                fields[field.name.lowercased()] = line
                line += 1 + field.value.count(of: "\n")
            }
            line += paragraph.trailingComments.count(of: "\n")
            paragraphs.append((first, fields))
        }
        lastLine = max(1, line - 1)
    }

    func line(of field: String, in paragraph: Int) -> Int {
        paragraphs[paragraph].fields[field.lowercased()] ?? paragraphs[paragraph].first
    }

    func firstLine(of paragraph: Int) -> Int { paragraphs[paragraph].first }
}

extension String {
    func count(of character: Character) -> Int { reduce(0) { $1 == character ? $0 + 1 : $0 } }
}
