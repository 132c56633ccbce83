-- Sentinel config store: agent-bound keys (docs/config-stores.md, "Agent-bound keys").
-- `projects.agent_keys` maps the hex SHA-256 of each agent-bound key to the one agent
-- its sessions run as. A key hash belongs to one project and one role: never both a
-- project key and an agent's key, never two projects'. A trigger checks every write,
-- the CLI's and a hand-written one alike, under a lock so two writes cannot both pass.
-- Idempotent, like 0001: every statement may run again.

alter table projects add column if not exists agent_keys jsonb not null default '{}'::jsonb;

create or replace function sentinel_check_keys() returns trigger
language plpgsql
as $$
declare
    self_name text := case when tg_op = 'UPDATE' then old.name else new.name end;
    new_keys text[];
begin
    if jsonb_typeof(new.agent_keys) is distinct from 'object' then
        raise exception 'agent_keys must be a JSON object (key SHA-256 -> agent)' using errcode = '22023';
    end if;
    new_keys := array(select k from jsonb_object_keys(new.agent_keys) k);
    if new.api_key_sha256 is not null and new.api_key_sha256 = any(new_keys) then
        raise exception 'that key is in use' using errcode = '23505';
    end if;
    perform pg_advisory_xact_lock(7346551002);  -- key writes take turns: each sees the others committed
    if exists (
        select 1 from projects p
        where p.name is distinct from self_name
          and ((new.api_key_sha256 is not null and p.agent_keys ? new.api_key_sha256)
               or p.api_key_sha256 = any(new_keys)
               or p.agent_keys ?| new_keys)
    ) then
        raise exception 'that key is in use' using errcode = '23505';
    end if;
    return new;
end
$$;

drop trigger if exists sentinel_check_keys on projects;
create trigger sentinel_check_keys before insert or update of api_key_sha256, agent_keys on projects
    for each row execute function sentinel_check_keys();

-- Bind a key to an agent (with p_replace, the agent's other keys go in the same write).
-- Both database stores call these; the Supabase store through PostgREST (/rpc).
create or replace function sentinel_add_agent_key(
    p_project text, p_key_sha256 text, p_agent text, p_replace boolean default false
) returns integer
language plpgsql
as $$
declare
    kept jsonb;
begin
    select agent_keys into kept from projects where name = p_project for update;
    if not found then
        raise exception 'no project named %', p_project using errcode = 'P0002';
    end if;
    if kept ? lower(p_key_sha256) then  -- the trigger sees other rows; this, the project's own agent keys
        raise exception 'that key is in use' using errcode = '23505';
    end if;
    if p_replace then
        kept := coalesce((select jsonb_object_agg(k, v) from jsonb_each_text(kept) as e(k, v) where v <> p_agent),
                         '{}'::jsonb);
    end if;
    update projects set agent_keys = kept || jsonb_build_object(lower(p_key_sha256), p_agent), updated_at = now()
        where name = p_project;
    return 1;
end
$$;

-- Remove every key bound to an agent; answers how many there were.
create or replace function sentinel_revoke_agent_keys(p_project text, p_agent text) returns integer
language plpgsql
as $$
declare
    kept jsonb;
    removed integer;
begin
    select agent_keys into kept from projects where name = p_project for update;
    if not found then
        raise exception 'no project named %', p_project using errcode = 'P0002';
    end if;
    select count(*) into removed from jsonb_each_text(kept) as e(k, v) where v = p_agent;
    if removed > 0 then
        update projects
           set agent_keys = coalesce((select jsonb_object_agg(k, v) from jsonb_each_text(kept) as e(k, v)
                                      where v <> p_agent), '{}'::jsonb),
               updated_at = now()
         where name = p_project;
    end if;
    return removed;
end
$$;
