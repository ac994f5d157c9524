package recording

import "context"

func (r *Recorder) compose(ctx context.Context, t Target, recs []*Recording) (*Recording, error) {
	return nil, nil
}
