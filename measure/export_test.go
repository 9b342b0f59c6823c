package measure

// ProbeTagAlgorithmByLoad is the loading probe, for comparing it with the
// BTF answer.
var ProbeTagAlgorithmByLoad = probeTagAlgorithmByLoad
