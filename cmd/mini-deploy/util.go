package main

import (
	"context"
	"errors"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
)

func isNotFound(err error) bool { return errors.Is(err, api.ErrNotFound) }

// workloadSelector is the label selector string of the pods a workload or
// Service picks; false when it picks none.
func workloadSelector(obj api.Object) (string, bool) {
	var set map[string]string
	switch o := obj.(type) {
	case *api.ReplicationController:
		set = o.Spec.Selector
		if len(set) == 0 && o.Spec.Template != nil {
			set = o.Spec.Template.Labels
		}
	case *api.ReplicaSet:
		return setBased(o.Spec.Selector)
	case *api.Deployment:
		return setBased(o.Spec.Selector)
	case *api.Service:
		set = o.Spec.Selector
	}
	if len(set) == 0 {
		return "", false
	}
	return labels.FormatLabels(set), true
}

func setBased(sel *api.LabelSelector) (string, bool) {
	s := printer.SelectorString(sel)
	return s, s != "<none>" && s != "<invalid>"
}

// podsOf lists the pods a workload's selector picks.
func podsOf(ctx context.Context, c *client.Client, obj api.Object) ([]*api.Pod, error) {
	sel, ok := workloadSelector(obj)
	if !ok {
		return nil, nil
	}
	objs, err := c.List(ctx, api.KindPod, obj.Meta().Namespace, sel)
	if err != nil {
		return nil, err
	}
	pods := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		if pod, ok := o.(*api.Pod); ok {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}
