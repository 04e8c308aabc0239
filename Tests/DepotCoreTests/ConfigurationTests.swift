import DepotCore
import DepotTestSupport
import Testing

@Suite struct ConfigurationTests {
    static let valid = """
        # Example Corp's packages
        Origin: Example Corp
        Label: Example
        Architectures: amd64 arm64
        Components: main
        Sign-With: 5C7A1B
        Retain-History: 50

        Distribution: development
        Promotes-To: staging
        Keep-Versions: 3
        Retain-History: 20

        Distribution: staging
        Promotes-To: production
        Valid-For: 7d

        Distribution: production
        Description: what ships

        """

    @Test func readsTheRepositoryAndItsDistributionsInPromotionOrder() throws {
        let configuration = try Configuration(parsing: Self.valid)
        #expect(configuration.origin == "Example Corp" && configuration.label == "Example")
        #expect(configuration.architectures == ["amd64", "arm64"] && configuration.components == ["main"])
        #expect(configuration.signWith == "5C7A1B")
        #expect(configuration.distributions.map(\.name) == ["development", "staging", "production"])
        #expect(configuration.distribution("development")?.keepVersions == 3)
        #expect(configuration.distribution("staging")?.keepVersions == 1)
        #expect(configuration.distribution("staging")?.validFor == 7 * 86400)
        #expect(configuration.distribution("staging")?.promotesTo == "production")
        #expect(configuration.distribution("production")?.description == "what ships")
        #expect(configuration.distributions.map(\.retainHistory) == [20, 50, 50])
        #expect(try Configuration(parsing: "Architectures: amd64\n\nDistribution: a\n").retainHistory == 500)
        #expect(try Configuration(parsing: configuration.rendered()) == configuration)
    }

    @Test func readsTheBucketOfTheServedTree() throws {
        let text = """
            Architectures: amd64
            Store: postgresql://depot@db.example:5432/depot
            Storage: s3://example-apt/depot/main
            S3-Endpoint: http://127.0.0.1:9000
            S3-Region: eu-central-1
            S3-Addressing: path
            S3-ACL: public-read
            Public-URL: https://apt.example.com/depot/
            GC-Grace: 2h

            Distribution: a

            """
        let configuration = try Configuration(parsing: text)
        let storage = try #require(configuration.objectStorage)
        #expect(storage.bucket == "example-apt" && storage.prefix == "depot/main")
        #expect(storage.effectiveEndpoint == "http://127.0.0.1:9000" && storage.region == "eu-central-1")
        #expect(storage.effectiveAddressing == .path && storage.acl == "public-read")
        #expect(storage.publicURL == "https://apt.example.com/depot" && storage.gcGrace == 7200)
        #expect(configuration.store == "postgresql://depot@db.example:5432/depot")
        // Written back as read.
        #expect(try Configuration(parsing: configuration.rendered()) == configuration)

        let aws = try #require(
            try Configuration(parsing: "Architectures: amd64\nStorage: s3://b-1\n\nDistribution: a\n").objectStorage)
        #expect(aws.prefix == "" && aws.effectiveEndpoint == "https://s3.us-east-1.amazonaws.com")
        #expect(aws.effectiveAddressing == .virtual && aws.gcGrace == 24 * 3600 && aws.acl == nil)
        #expect(try Configuration(parsing: Self.valid).objectStorage == nil)
    }

    @Test func aTemplateMakesDistributionsWithItsSettingsUnderItsNamingRules() throws {
        let configuration = try Configuration(
            parsing: Self.valid + "\nDistribution: pr-*\nPromotes-To: staging\nExpires-After: 7d\nKeep-Versions: 2\n")
        #expect(configuration.distributions.map(\.name) == ["development", "staging", "production"])
        #expect(configuration.templates.map(\.name) == ["pr-*"])
        let made = try #require(configuration.distribution("pr-123"))
        #expect(made.name == "pr-123" && made.template == "pr-*" && made.promotesTo == "staging")
        #expect(made.keepVersions == 2 && made.expiresAfter == 7 * 86400)
        // A name made from a template follows the distribution-name rules.
        for refused in ["pr-", "pr-Feature", "pr-a/b", "pr-..", "pr-a b", "dev"] {
            #expect(configuration.instance(of: refused) == nil, "\(refused)")
        }
        #expect(try Configuration(parsing: configuration.rendered()) == configuration)
        #expect(Scope(.push, "pr-*").allows(.push, on: "pr-9"))
        #expect(!Scope(.push, "pr-*").allows(.push, on: "staging"))
        #expect(!Scope(.push, "pr-*").allows(.promote, on: "pr-9"))
    }

    @Test func readsWebhookStanzasAnywhereAfterTheRepositorys() throws {
        let webhooks = """

            Webhook: https://ci.example/depot-events
            Events: promote rollback
            Secret-File: /etc/depot/webhook.secret

            Webhook: https://hooks.slack.example/T0/B0
            Format: slack

            """
        let configuration = try Configuration(parsing: Self.valid + webhooks)
        #expect(configuration.distributions.map(\.name) == ["development", "staging", "production"])
        #expect(
            configuration.webhooks == [
                Webhook(
                    url: "https://ci.example/depot-events", events: [.promote, .rollback],
                    secretFile: "/etc/depot/webhook.secret"),
                Webhook(url: "https://hooks.slack.example/T0/B0", format: .slack),
            ])
        // Rendered and read again, it is the same: nodes compare configurations this way.
        #expect(try Configuration(parsing: configuration.rendered()) == configuration)
        var other = configuration
        other.webhooks[0].events = [.promote]
        #expect(
            configuration.differences(from: other, here: "here", there: "there")
                == ["Events of webhook https://ci.example/depot-events: 'promote rollback' here, 'promote' there"])
    }

    @Test(arguments: [
        ("Origin: X\nArchitectures: amd64\nColour: blue\n\nDistribution: a\n", 3, "unknown field 'Colour'"),
        ("Origin: X\nArchitectures: amd64\n\nDistribution: a\nPromotes-To: b\nKeep: 2\n", 6, "unknown field 'Keep'"),
        (
            "Origin: X\nArchitectures: amd64\n\nDistribution: a\n\nDistribution: a\n", 6,
            "distribution 'a' is defined twice"
        ),
        (
            "Origin: X\nArchitectures: amd64\n\nDistribution: a\nPromotes-To: nowhere\n", 5,
            "Promotes-To names 'nowhere'"
        ),
        ("Origin: X\nArchitectures:\n\nDistribution: a\n", 2, "'Architectures' must list at least one value"),
        ("Origin: X\n\nDistribution: a\n", 1, "'Architectures' must list at least one value"),
        ("Origin: X\nArchitectures: amd64\n\nDistribution: ../etc\n", 4, "invalid distribution name '../etc'"),
        (
            "Origin: X\nArchitectures: amd64\n\nDistribution: a\nKeep-Versions: 0\n", 5,
            "Keep-Versions must be a whole number"
        ),
        (
            "Origin: X\nArchitectures: amd64\nRetain-History: all\n\nDistribution: a\n", 3,
            "Retain-History must be a whole number"
        ),
        ("Origin: X\nArchitectures: AMD64\n\nDistribution: a\n", 2, "invalid architecture 'AMD64'"),
        ("Origin: X\nArchitectures: amd64\n", 2, "no distributions"),
        ("Origin: X\nArchitectures: amd64\n\nPromotes-To: b\n", 4, "needs a 'Distribution' field"),
        ("Origin: X\nOrigin: Y\n", 2, "appears twice"),
        ("Origin X\n", 1, "without a colon"),
        ("Architectures: amd64\nStorage: /srv/apt\n\nDistribution: a\n", 2, "Storage must be 's3://BUCKET/PREFIX'"),
        ("Architectures: amd64\nStorage: s3://ab/x\n\nDistribution: a\n", 2, "'ab' in Storage is not a bucket name"),
        ("Architectures: amd64\nStorage: s3://apt/../x\n\nDistribution: a\n", 2, "may not contain '..'"),
        ("Architectures: amd64\nS3-Region: eu-west-1\n\nDistribution: a\n", 2, "S3-Region applies to a bucket"),
        (
            "Architectures: amd64\nStorage: s3://apt\nS3-Endpoint: ftp://x\n\nDistribution: a\n", 3,
            "S3-Endpoint must be"
        ),
        (
            "Architectures: amd64\nStorage: s3://apt\nS3-Endpoint: http://h:9000/path\n\nDistribution: a\n", 3,
            "S3-Endpoint must be"
        ),
        ("Architectures: amd64\nStorage: s3://apt\nS3-Region: EU 1\n\nDistribution: a\n", 3, "S3-Region must be"),
        ("Architectures: amd64\nStorage: s3://apt\nS3-Addressing: dns\n\nDistribution: a\n", 3, "'path' or 'virtual'"),
        ("Architectures: amd64\nStorage: s3://apt\nS3-ACL: public\n\nDistribution: a\n", 3, "canned ACL"),
        ("Architectures: amd64\nStorage: s3://apt\nPublic-URL: cdn.example\n\nDistribution: a\n", 3, "Public-URL must be"),
        ("Architectures: amd64\nStorage: s3://apt\nGC-Grace: soon\n\nDistribution: a\n", 3, "GC-Grace must be"),
        ("Architectures: amd64\nStore: mysql://db/depot\n\nDistribution: a\n", 2, "Store must be 'postgresql://"),
        ("Architectures: amd64\n\nDistribution: a\n\nWebhook: ftp://ci/x\n", 5, "Webhook must be an http or https URL"),
        ("Architectures: amd64\n\nDistribution: a\n\nWebhook: http://ci/x y\n", 5, "Webhook must be an http or https URL"),
        ("Architectures: amd64\n\nDistribution: a\n\nWebhook: http://ci/x\nEvents: push deploy\n", 6, "unknown event 'deploy'"),
        ("Architectures: amd64\n\nDistribution: a\n\nWebhook: http://ci/x\nEvents:\n", 6, "'Events' must list"),
        ("Architectures: amd64\n\nDistribution: a\n\nWebhook: http://ci/x\nFormat: xml\n", 6, "Format must be 'json' or 'slack'"),
        ("Architectures: amd64\n\nDistribution: a\n\nWebhook: http://ci/x\nRetries: 3\n", 6, "unknown field 'Retries' in a webhook stanza"),
        (
            "Architectures: amd64\n\nDistribution: a\n\nWebhook: http://ci/x\n\nWebhook: http://ci/x\nFormat: slack\n", 7,
            "the webhook 'http://ci/x' is defined twice"
        ),
        ("Architectures: amd64\n\nDistribution: a\nWebhook: http://ci/x\n", 3, "a distribution or a webhook, not both"),
        ("Architectures: amd64\n\nWebhook: http://ci/x\n", 3, "no distributions"),
        (
            "Architectures: amd64\n\nWebhook: http://ci/x\n\nDistribution: a\nPromotes-To: b\n", 6,
            "Promotes-To names 'b'"
        ),
        (
            "Architectures: amd64\n\nDistribution: pr-1\n\nDistribution: pr-*\n", 5,
            "the template 'pr-*' would match the distribution 'pr-1'"
        ),
        ("Architectures: amd64\n\nDistribution: a\n\nDistribution: pr-*\nExpires-After: soon\n", 6, "Expires-After must be a duration"),
        ("Architectures: amd64\n\nDistribution: a\n\nDistribution: pr-*\nExpires-After: -1d\n", 6, "Expires-After must be a duration"),
        ("Architectures: amd64\n\nDistribution: a\nExpires-After: 7d\n", 4, "Expires-After applies to a template"),
        ("Architectures: amd64\n\nDistribution: a\n\nDistribution: pr*x\n", 5, "invalid distribution name 'pr*x'"),
        ("Architectures: amd64\n\nDistribution: a\n\nDistribution: *\n", 5, "invalid template '*'"),
        ("Architectures: amd64\n\nDistribution: a\n\nDistribution: PR-*\n", 5, "invalid template 'PR-*'"),
        (
            "Architectures: amd64\n\nDistribution: a\n\nDistribution: pr-*\n\nDistribution: pr-x*\n", 5,
            "the templates 'pr-*' and 'pr-x*' would both match"
        ),
        (
            "Architectures: amd64\n\nDistribution: a\nPromotes-To: pr-*\n\nDistribution: pr-*\n", 4,
            "Promotes-To names the template 'pr-*'"
        ),
        ("Architectures: amd64\n\nDistribution: pr-*\n", 3, "no distributions"),
    ])
    func reportsEveryMistakeWithItsLine(text: String, line: Int, problem: String) {
        do {
            _ = try Configuration(parsing: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.problem.contains(problem), "\(error)")
        }
    }
}

/// Numbers and durations from depot.conf, fed extreme and malformed: each is read within its
/// range or refused with an error naming the field and line, never a crash (an overflow
/// would end this test process).
@Suite struct ConfigurationBoundsTests {
    /// Text a hostile or careless hand writes where a number goes.
    static func hostileNumber(_ random: inout SeededGenerator) -> String {
        let digits = (0..<Int.random(in: 1...40, using: &random)).map { _ in String(Int.random(in: 0...9, using: &random)) }
            .joined()
        let pieces = [
            digits, "-" + digits, "+" + digits, String(Int.max), String(Int.min), "9223372036854775808", "0", "",
            " " + digits, digits + ".5", "1e308", "nan", "0x10", "٣", "9" + String(repeating: "9", count: 100),
        ]
        let units = ["", "s", "m", "h", "d", "w", "y", "ms", "ww", "\u{0}"]
        return pieces.randomElement(using: &random)! + units.randomElement(using: &random)!
    }

    @Test func durationsAreWithinTheirRangeOrRefused() {
        var random = SeededGenerator(seed: 2026_12_07)
        for _ in 0..<5_000 {
            let text = Self.hostileNumber(&random)
            if let seconds = Configuration.duration(text) {
                #expect((1...Configuration.longestDuration).contains(seconds), "\(text) read as \(seconds)")
            }
        }
        #expect(Configuration.duration("3650d") == Configuration.longestDuration)
        #expect(Configuration.duration("3651d") == nil && Configuration.duration("522w") == nil)
        #expect(Configuration.duration("99999999999999999w") == nil)
        #expect(Configuration.duration("+5h") == nil && Configuration.duration("-5h") == nil)
        #expect(Configuration.duration("90s") == 90 && Configuration.duration("2d") == 172_800)
    }

    @Test func everyNumericFieldIsWithinItsRangeOrRefusedWithItsLine() {
        var random = SeededGenerator(seed: 42)
        let fields: [(field: String, repository: Bool)] = [
            ("Min-Soak", false), ("Valid-For", false), ("Keep-Versions", false), ("Retain-History", false),
            ("Approvals", false), ("Session-Lifetime", true), ("Retain-History", true),
        ]
        for _ in 0..<2_000 {
            let (field, inRepository) = fields.randomElement(using: &random)!
            let value = Self.hostileNumber(&random)
            let text =
                "Architectures: amd64\n" + (inRepository ? "\(field): \(value)\n" : "") + "\nDistribution: a\n"
                + (inRepository ? "" : "\(field): \(value)\n")
            do {
                let configuration = try Configuration(parsing: text)
                let distribution = configuration.distributions[0]
                #expect((1...Configuration.longestDuration).contains(configuration.sessionLifetime))
                #expect((1...Configuration.largestCount).contains(distribution.keepVersions))
                #expect((1...Configuration.largestCount).contains(distribution.retainHistory))
                #expect((0...Configuration.largestCount).contains(distribution.approvals))
                #expect(distribution.minSoak.map { (1...Configuration.longestDuration).contains($0) } ?? true)
                #expect(distribution.validFor.map { (1...Configuration.longestDuration).contains($0) } ?? true)
            } catch where !value.contains("\u{0}") {
                // (A NUL is refused by the deb822 reader, before any field is read.)
                #expect(error.line == (inRepository ? 2 : 4), "\(field): \(value): \(error)")
                #expect(error.problem.contains(field), "\(field): \(value): \(error)")
            } catch {}
        }
    }
}
