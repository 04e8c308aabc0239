/// Where and how a file is listed in a distribution: what a rollback restores.
struct ListingState: Hashable {
    var component: String
    var phase: Int?
}
