import DebianFormat

/// `depot.conf`: one deb822 stanza for the repository, then one per distribution in
/// promotion order (depot.conf(5)).
public struct Configuration: Sendable, Hashable {
    public struct Distribution: Sendable, Hashable {
        public var name: String
        public var promotesTo: String?
        public var keepVersions: Int
        /// How many of the distribution's latest history entries can be rolled back: gc keeps
        /// every pool file they reference.
        public var retainHistory: Int
        /// Seconds a `Release` stays valid (`Valid-Until`), when set.
        public var validFor: Int?
        public var description: String?
        /// Promotion gates: seconds a file must have been listed in the distribution it is
        /// promoted from (`Min-Soak`), and how many users other than its pusher and its
        /// promoter must have approved it (`Approvals`).
        public var minSoak: Int?
        public var approvals: Int = 0
        /// For a template (`pr-*`): seconds without a change after which `depot gc`
        /// unpublishes a distribution made from it (`Expires-After`).
        public var expiresAfter: Int?
        /// For a distribution made from a template: the template's name (`pr-*`).
        public var template: String?

        /// Whether this is a template: a name ending in `*`, whose distributions a push makes.
        public var isTemplate: Bool { name.hasSuffix("*") }

        public var hasGates: Bool { minSoak != nil || approvals > 0 }

        /// The gates it has, as depot.conf names them.
        public var gateNames: [String] {
            (minSoak == nil ? [] : ["Min-Soak"]) + (approvals > 0 ? ["Approvals"] : [])
        }

        public init(
            name: String, promotesTo: String? = nil, keepVersions: Int = 1,
            retainHistory: Int = Configuration.defaultRetainHistory, validFor: Int? = nil, description: String? = nil
        ) {
            self.name = name
            self.promotesTo = promotesTo
            self.keepVersions = keepVersions
            self.retainHistory = retainHistory
            self.validFor = validFor
            self.description = description
        }
    }

    public var origin: String
    public var label: String
    public var architectures: [String]
    public var components: [String]
    public var signWith: String?
    /// `Retain-History` of the repository stanza: the default of every distribution.
    public var retainHistory: Int
    /// Who may see the dashboard at `/` of `depot serve`.
    public var dashboard: DashboardAccess = .private
    /// Seconds a sign-in to the dashboard lasts (`Session-Lifetime`).
    public var sessionLifetime = Configuration.defaultSessionLifetime
    public static let defaultSessionLifetime = 8 * 3600
    /// The bucket that holds the served tree; nil for `public/` under the root.
    public var objectStorage: ObjectStorageConfiguration?
    /// The PostgreSQL database that holds the metadata store (`postgresql://USER@HOST:PORT/DB`);
    /// nil for SQLite in `.depot/depot.sqlite`.
    public var store: String?
    public var distributions: [Distribution]
    /// Templates of short-lived distributions (`Distribution: pr-*`), which the first push
    /// into a name they match makes.
    public var templates: [Distribution] = []
    /// The receivers told of changes (`Webhook:` stanzas), in the order depot.conf lists them.
    public var webhooks: [Webhook] = []

    /// Whether `depot serve` shows its dashboard (listings, notes and users of the latest
    /// changes) to anyone who reaches it, or only to browsers signed in with an API token.
    /// Acting from it always needs a signed-in token with the scope the action needs.
    public enum DashboardAccess: String, Sendable, Hashable, CaseIterable {
        case `public`
        case `private`
    }

    /// Generous: a year of daily changes can be rolled back.
    public static let defaultRetainHistory = 500

    public init(
        origin: String, label: String, architectures: [String], components: [String], signWith: String?,
        retainHistory: Int = Configuration.defaultRetainHistory, distributions: [Distribution]
    ) {
        self.origin = origin
        self.label = label
        self.architectures = architectures
        self.components = components
        self.signWith = signWith
        self.retainHistory = retainHistory
        self.distributions = distributions
    }

    /// The settings of the distribution `name`: one of depot.conf, or one a template would
    /// make (whether it was made is the store's to say: `Repository.distribution`).
    public func distribution(_ name: String) -> Distribution? {
        distributions.first { $0.name == name } ?? instance(of: name)
    }

    /// The distribution named `name` that a template of depot.conf would make, with the
    /// template's settings; nil when no template matches or the name breaks the naming rules.
    public func instance(of name: String) -> Distribution? {
        guard var made = templates.first(where: { Self.template($0.name, matches: name) }),
            Self.isSafeName(name)
        else { return nil }
        made.template = made.name
        made.name = name
        return made
    }

    /// Whether a name is one a template makes: its prefix and at least one more character.
    public static func template(_ template: String, matches name: String) -> Bool {
        let prefix = template.dropLast()
        return name.count > prefix.count && name.hasPrefix(prefix)
    }

    static let repositoryFields: Set<String> = [
        "origin", "label", "architectures", "components", "sign-with", "retain-history", "dashboard", "session-lifetime",
        "store", "storage", "s3-endpoint", "s3-region", "s3-addressing", "s3-acl", "public-url", "gc-grace",
    ]
    static let distributionFields: Set<String> = [
        "distribution", "promotes-to", "keep-versions", "retain-history", "valid-for", "description", "min-soak",
        "approvals", "expires-after",
    ]
    static let webhookFields: Set<String> = ["webhook", "events", "secret-file", "format"]

    /// The text of a new `depot.conf`.
    public func rendered() -> String {
        var repository = Deb822Paragraph([
            "Origin": origin, "Label": label,
            "Architectures": architectures.joined(separator: " "),
            "Components": components.joined(separator: " "),
        ])
        if let signWith { repository["Sign-With"] = signWith }
        if retainHistory != Self.defaultRetainHistory { repository["Retain-History"] = String(retainHistory) }
        if dashboard != .private { repository["Dashboard"] = dashboard.rawValue }
        if sessionLifetime != Self.defaultSessionLifetime { repository["Session-Lifetime"] = String(sessionLifetime) }
        if let store { repository["Store"] = store }
        if let storage = objectStorage {
            repository["Storage"] = storage.url
            if let endpoint = storage.endpoint { repository["S3-Endpoint"] = endpoint }
            if storage.region != ObjectStorageConfiguration.defaultRegion { repository["S3-Region"] = storage.region }
            if let addressing = storage.addressing { repository["S3-Addressing"] = addressing.rawValue }
            if let acl = storage.acl { repository["S3-ACL"] = acl }
            if let url = storage.publicURL { repository["Public-URL"] = url }
            if storage.gcGrace != ObjectStorageConfiguration.defaultGCGrace {
                repository["GC-Grace"] = String(storage.gcGrace)
            }
        }
        var document = Deb822Document([repository])
        for distribution in distributions + templates {
            var paragraph = Deb822Paragraph(["Distribution": distribution.name])
            if let target = distribution.promotesTo { paragraph["Promotes-To"] = target }
            if distribution.keepVersions != 1 { paragraph["Keep-Versions"] = String(distribution.keepVersions) }
            if distribution.retainHistory != retainHistory {
                paragraph["Retain-History"] = String(distribution.retainHistory)
            }
            if let validFor = distribution.validFor { paragraph["Valid-For"] = String(validFor) }
            if let minSoak = distribution.minSoak { paragraph["Min-Soak"] = String(minSoak) }
            if distribution.approvals > 0 { paragraph["Approvals"] = String(distribution.approvals) }
            if let expiresAfter = distribution.expiresAfter { paragraph["Expires-After"] = String(expiresAfter) }
            if let description = distribution.description { paragraph["Description"] = description }
            document.paragraphs.append(paragraph)
        }
        for webhook in webhooks {
            var paragraph = Deb822Paragraph(["Webhook": webhook.url])
            if webhook.events != Set(Webhook.Event.allCases) {
                paragraph["Events"] = Webhook.Event.allCases.filter(webhook.events.contains).map(\.rawValue)
                    .joined(separator: " ")
            }
            if let secretFile = webhook.secretFile { paragraph["Secret-File"] = secretFile }
            if webhook.format != .json { paragraph["Format"] = webhook.format.rawValue }
            document.paragraphs.append(paragraph)
        }
        return document.rendered()
    }

    /// How this configuration differs from `other`, one line per field ("Keep-Versions of
    /// production: 3 here, 2 there"), the store's address left out: nodes may reach one
    /// store by different names.
    public func differences(from other: Configuration, here: String, there: String) -> [String] {
        func fields(_ configuration: Configuration) -> [String: String] {
            var configuration = configuration
            configuration.store = nil
            var result: [String: String] = [:]
            let rendered = (try? Deb822Document(parsing: configuration.rendered()))?.paragraphs ?? []
            for (position, paragraph) in rendered.enumerated() {
                let stanza = position == 0 ? nil : paragraph["Distribution"] ?? paragraph["Webhook"].map { "webhook \($0)" }
                for field in paragraph.fields {
                    result[stanza.map { "\(field.name) of \($0)" } ?? field.name] = field.value
                }
            }
            return result
        }
        let mine = fields(self)
        let theirs = fields(other)
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            guard mine[key] != theirs[key] else { return nil }
            func describe(_ value: String?) -> String { value.map { "'\($0)'" } ?? "none" }
            return "\(key): \(describe(mine[key])) \(here), \(describe(theirs[key])) \(there)"
        }
    }
}
