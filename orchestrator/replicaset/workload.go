package replicaset

import (
	"fmt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
)

// Workload is what a ReplicaSet and a ReplicationController have in common:
// keep replicas pods of a template, matching a selector.
type Workload struct {
	Obj        api.Object
	Kind       string
	Namespace  string
	Name       string
	UID        string
	Replicas   int32
	MinReady   int32
	Selector   labels.Selector
	Template   *api.PodTemplateSpec
	Generation int64
	Status     *api.ReplicaSetStatus
}

// WorkloadOf reads a ReplicaSet or a ReplicationController.
func WorkloadOf(obj api.Object) (*Workload, error) {
	m := obj.Meta()
	w := &Workload{Obj: obj, Kind: obj.GetTypeMeta().Kind, Namespace: api.KeyOf(obj).Namespace, Name: m.Name, UID: m.UID, Generation: m.Generation}
	switch o := obj.(type) {
	case *api.ReplicaSet:
		sel, err := labels.SelectorFromLabelSelector(o.Spec.Selector)
		if err != nil {
			return nil, err
		}
		w.Selector, w.Template, w.MinReady, w.Status = sel, &o.Spec.Template, o.Spec.MinReadySeconds, &o.Status
		w.Replicas = 1
		if o.Spec.Replicas != nil {
			w.Replicas = *o.Spec.Replicas
		}
	case *api.ReplicationController:
		sel := o.Spec.Selector
		if len(sel) == 0 && o.Spec.Template != nil {
			sel = o.Spec.Template.Labels
		}
		w.Selector = labels.SelectorFromSet(sel)
		w.Template, w.MinReady, w.Status = o.Spec.Template, o.Spec.MinReadySeconds, &o.Status
		w.Replicas = 1
		if o.Spec.Replicas != nil {
			w.Replicas = *o.Spec.Replicas
		}
	default:
		return nil, fmt.Errorf("%s is not a workload", w.Kind)
	}
	if w.Template == nil || len(w.Template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("%s %q has no pod template", w.Kind, w.Name)
	}
	return w, nil
}
