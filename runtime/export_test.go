package runtime

// ResetCaches forgets cached keys, signature checks and plans.
var ResetCaches = resetCaches
