# The cluster's registry and the conductors' prefetch (README, Self-healing:
# "Conductors pull missing images from the cluster's registry (--registry), ahead
# of need, so that a failover does not wait for a pull"; issue 12, defect 23).

# An image only the registry holds: pushed there from h1's engine under a name of
# the run's own, then untagged on h1, so that no engine has it.
PF_IMAGE=prefetch-probe-$$
pf_registry() { echo "10.88.$CL_NET.1:5000"; }
pf_has() { cl_docker "$1" image inspect "$PF_IMAGE" >/dev/null 2>&1; } # HOST
pf_every_host_has() {
    local i
    for i in $(seq 1 $CL_HOSTS); do pf_has "$i" || return 1; done
}
pf_cleanup() {
    local i
    set +e
    cl_delete_app prefetch >/dev/null 2>&1
    for i in $(seq 1 $CL_HOSTS); do
        cl_docker "$i" rmi "$PF_IMAGE" "$(pf_registry)/$PF_IMAGE" >/dev/null 2>&1
    done
    return 0
}

# A manifest of scale 0 names the image: no instance needs it anywhere, and yet
# every host's engine has it within seconds, pulled from the cluster's registry
# (each conductor's log says so), under the manifest's own name.
test_08_every_host_prefetches_a_manifests_image_from_the_registry() {
    local i n
    trap pf_cleanup EXIT
    cl_docker 1 tag dockerfile/ubuntu "$(pf_registry)/$PF_IMAGE"
    cl_docker 1 push -q "$(pf_registry)/$PF_IMAGE" >/dev/null
    cl_docker 1 rmi "$(pf_registry)/$PF_IMAGE" >/dev/null
    for i in $(seq 1 $CL_HOSTS); do ! pf_has "$i" || fail "h$i has $PF_IMAGE before any manifest names it"; done
    curl -sf --max-time 5 "http://$(pf_registry)/v2/$PF_IMAGE/tags/list" | grep -q latest ||
        fail "the registry does not list $PF_IMAGE"
    cl_set prefetch probe "{\"image\": \"$PF_IMAGE\", \"scale\": 0}"
    dk_wait 60 "every host's engine to have $PF_IMAGE" pf_every_host_has ||
        fail "hosts without $PF_IMAGE: $(for i in $(seq 1 $CL_HOSTS); do pf_has "$i" || echo -n "h$i "; done)"
    for i in $(seq 1 $CL_HOSTS); do
        grep -q "prefetch: pulling $PF_IMAGE from $(pf_registry)" "/var/lib/$CL_NAME/h$i/conductor.log" ||
            fail "h$i's conductor does not say it pulled $PF_IMAGE from the registry"
    done
    n=$(cl_count_keys /apps/prefetch/probe/instances/)
    assert_eq 0 "$n" "instances placed of a manifest of scale 0"
    # and an instance then starts from what is there (the engine never asks Docker Hub)
    cl_set prefetch probe "{\"image\": \"$PF_IMAGE\", \"scale\": 1, \"command\": [\"sleep\", \"infinity\"]}"
    CL_WAIT=30 cl_wait_converged prefetch probe 1
    cl_delete_app prefetch
    dk_wait 60 "prefetch to go" running_is prefetch probe 0
}
