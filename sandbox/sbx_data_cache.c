/* What the data set's caches hold, and emptying them: the selection and stock caches
 * (sbx_data.c) and the rendered-row cache (sbx_data_render.c) seen as one. */
#include "sbx_data_int.h"

void sbx_data_cache_stats(struct sbx_cache_stats *st)
{
    sbx_select_cache_stats(st);
    size_t re, rb, rmax;
    sbx_render_cache_stats(&re, &rb, &rmax);
    st->entries += re;
    st->bytes += rb;
    st->max_bytes += rmax;
}

void sbx_data_cache_clear(void)
{
    sbx_select_cache_clear();
    sbx_render_cache_clear();
}
